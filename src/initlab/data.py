"""Data sets in the course's layout: examples are columns, ``X: (n_x, m)``, ``Y: (n_y, m)``.

Built in (generated in code or shipped by scikit-learn; nothing is downloaded):

==========  ============================================================================
flower      the course's planar "flower": 400 points, 2 classes. ``seed=None`` gives
            exactly the course's set (drawn after ``np.random.seed(1)``); the test set is
            the same procedure after ``np.random.seed(2)``.
circles     the course's circles: train ``np.random.seed(1)``, ``make_circles(300, noise=.05)``;
            test ``np.random.seed(2)``, 100 samples.
moons       ``make_moons``, 300 train / 100 test, noise 0.2.
blobs       two Gaussian blobs at (-2, -2) and (2, 2), std 1: (almost) linearly separable.
xor         uniform on [-1, 1]^2, label ``x1 * x2 > 0``.
spiral      two interleaved spiral arms with noise.
digits      scikit-learn's 8x8 digits (1797 images, 10 classes), pixels / 16,
            one-hot ``Y: (10, m)``; a stratified 80/20 split.
==========  ============================================================================

A user's file: ``load("my.csv")`` or ``load("my.npz")``, rows are examples (see `load_file`).
Global NumPy state is never touched: the course's seeds are reproduced with a local
``RandomState(seed)``, which draws the same numbers as ``np.random.seed(seed)``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from initlab.errors import InitlabError, unknown


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays in column layout, with what they are.

    ``X_train: (n_x, m_train)``, ``Y_train: (n_y, m_train)``; ``n_y = 1`` (0/1 labels) for two
    classes, ``n_y = K`` one-hot for K > 2 classes.
    """

    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    classes: list = field(default_factory=lambda: [0, 1])
    description: str = ""

    @property
    def n_x(self) -> int:
        return self.X_train.shape[0]

    @property
    def n_y(self) -> int:
        return self.Y_train.shape[0]

    @property
    def output(self) -> str:
        """The output activation that fits: sigmoid for two classes, softmax for more."""
        return "sigmoid" if self.n_y == 1 else "softmax"

    def summary(self) -> dict:
        return {
            "name": self.name,
            "n_x": self.n_x,
            "n_y": self.n_y,
            "m_train": self.X_train.shape[1],
            "m_test": self.X_test.shape[1],
            "classes": [c if isinstance(c, str) else int(c) for c in self.classes],
            "description": self.description,
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"Dataset({s['name']!r}: X_train {self.X_train.shape}, Y_train {self.Y_train.shape}, "
            f"X_test {self.X_test.shape}, Y_test {self.Y_test.shape})"
        )


def encode_labels(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels ``(m,)`` to ``Y``: ``(1, m)`` of 0/1 for 2 classes, one-hot ``(K, m)`` else."""
    labels = np.asarray(labels).astype(np.int64).ravel()
    if n_classes <= 2:
        return labels[None, :].astype(np.float64)
    return np.eye(n_classes)[:, labels]


def check_seed(seed: object) -> int | None:
    """A data seed: None (the course's fixed sets) or a non-negative integer, as an int."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InitlabError(f"data seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _seeds(seed: int | None, course: tuple[int, int]) -> tuple[int, int]:
    """(train seed, test seed): the course's pair for None, else two derived from ``seed``."""
    seed = check_seed(seed)
    if seed is None:
        return course
    a, b = np.random.SeedSequence(seed).generate_state(2)
    return int(a), int(b)


# ------------------------------------------------------------------ generated 2-D sets
def _flower(rs: np.random.RandomState, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The course's ``load_planar_dataset`` body, drawing from ``rs``: X (m, 2), labels (m,)."""
    N = m // 2
    a = 4  # maximum ray of the flower
    X = np.zeros((N * 2, 2))
    y = np.zeros(N * 2, dtype=np.int64)
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + rs.randn(N) * 0.2  # theta
        r = a * np.sin(4 * t) + rs.randn(N) * 0.2  # radius
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return X, y


def _circles(rs: np.random.RandomState, m: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    return make_circles(n_samples=m, noise=0.05, random_state=rs)


def _moons(rs: np.random.RandomState, m: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    return make_moons(n_samples=m, noise=0.2, random_state=rs)


def _blobs(rs: np.random.RandomState, m: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=m, centers=[[-2.0, -2.0], [2.0, 2.0]], cluster_std=1.0, random_state=rs)


def _xor(rs: np.random.RandomState, m: int) -> tuple[np.ndarray, np.ndarray]:
    X = rs.uniform(-1.0, 1.0, (m, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


def _spiral(rs: np.random.RandomState, m: int) -> tuple[np.ndarray, np.ndarray]:
    N = m // 2
    X = np.zeros((N * 2, 2))
    y = np.zeros(N * 2, dtype=np.int64)
    t = np.linspace(0.25, 1.0, N)  # radius, from near the centre outwards
    for j in range(2):
        angle = 3 * np.pi * t + j * np.pi + rs.randn(N) * 0.2
        X[N * j : N * (j + 1)] = np.c_[t * np.sin(angle), t * np.cos(angle)]
        y[N * j : N * (j + 1)] = j
    return X, y


@dataclass(frozen=True)
class _Generated:
    make: Callable[[np.random.RandomState, int], tuple[np.ndarray, np.ndarray]]
    m_train: int
    m_test: int
    course_seeds: tuple[int, int]
    description: str


GENERATED: dict[str, _Generated] = {
    "flower": _Generated(_flower, 400, 400, (1, 2), "the course's planar flower (load_planar_dataset), 2 classes"),
    "circles": _Generated(_circles, 300, 100, (1, 2), "the course's circles (make_circles, noise 0.05), 2 classes"),
    "moons": _Generated(_moons, 300, 100, (0, 1), "two moons (make_moons, noise 0.2)"),
    "blobs": _Generated(_blobs, 300, 100, (0, 1), "two Gaussian blobs, nearly separable"),
    "xor": _Generated(_xor, 300, 100, (0, 1), "XOR on [-1, 1]^2: label x1 * x2 > 0"),
    "spiral": _Generated(_spiral, 300, 100, (0, 1), "two interleaved spiral arms"),
}


def _digits(seed: int | None, test_fraction: float) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = d.data / 16.0, d.target
    tr, te = _split(y, test_fraction, 0 if seed is None else seed)
    return Dataset(
        "digits",
        X[tr].T,
        encode_labels(y[tr], 10),
        X[te].T,
        encode_labels(y[te], 10),
        classes=list(range(10)),
        description="scikit-learn's 8x8 digits, pixels/16, 10 classes one-hot",
    )


def _split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, stratified train/test indices: each class split in the same proportion."""
    if not 0.0 < test_fraction < 1.0:
        raise InitlabError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    rs = np.random.RandomState(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rs.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * test_fraction))
        if len(idx) > 1:
            k = min(max(k, 1), len(idx) - 1)
        test.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(test, dtype=np.int64))


BUILTIN = [*GENERATED, "digits"]


def names() -> list[str]:
    """The built-in data set names."""
    return list(BUILTIN)


def load(name: str | Path, *, seed: int | None = None, test_fraction: float = 0.2) -> Dataset:
    """A built-in data set by name, or a user's ``.csv``/``.npz`` file by path.

    ``seed=None`` gives the course's exact sets for flower and circles (and fixed default
    draws for the others); an integer draws a new train and test set from two streams
    derived from it. ``test_fraction`` applies to digits and to files without a test set.
    """
    text = str(name)
    if text in GENERATED:
        g = GENERATED[text]
        s_train, s_test = _seeds(seed, g.course_seeds)
        Xtr, ytr = g.make(np.random.RandomState(s_train), g.m_train)
        Xte, yte = g.make(np.random.RandomState(s_test), g.m_test)
        return Dataset(
            text, Xtr.T.copy(), encode_labels(ytr, 2), Xte.T.copy(), encode_labels(yte, 2), description=g.description
        )
    if text == "digits":
        return _digits(seed, test_fraction)
    path = Path(text)
    if path.suffix.lower() in (".csv", ".npz") or path.exists():
        return load_file(path, seed=seed, test_fraction=test_fraction)
    raise unknown("data set", text, BUILTIN + ["PATH.csv", "PATH.npz"])


# ------------------------------------------------------------------------- user files
LABEL_COLUMNS = ("label", "labels", "y", "target", "class")


def _read_csv(path: Path) -> tuple[np.ndarray, list[str]]:
    """Features ``(m, n_x)`` and raw labels from a CSV; every bad line is named."""
    try:
        # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first cell
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as e:
        raise InitlabError(f"cannot read {path}: {e.strerror}") from None
    try:
        with handle:
            rows = [(i, r) for i, r in enumerate(csv.reader(handle), start=1) if r and any(c.strip() for c in r)]
    except UnicodeDecodeError as e:
        raise InitlabError(
            f"{path} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}): save it as UTF-8"
        ) from None
    except csv.Error as e:
        raise InitlabError(f"{path} is not a readable CSV file: {e}") from None
    if not rows:
        raise InitlabError(f"{path} is empty: expected rows of numbers with a label column")

    def numeric(cell: str) -> bool:
        try:
            float(cell)
            return True
        except ValueError:
            return False

    header = None
    if not all(numeric(c) for c in rows[0][1][:-1]):
        header = [c.strip() for c in rows[0][1]]
        rows = rows[1:]
    if not rows:
        raise InitlabError(f"{path} has a header but no data rows")
    width = len(header) if header else len(rows[0][1])
    if width < 2:
        raise InitlabError(f"{path} line {rows[0][0]}: need at least one feature and a label column")
    label_col = width - 1
    if header:
        lower = [h.lower() for h in header]
        label_col = next((lower.index(n) for n in LABEL_COLUMNS if n in lower), width - 1)
    features, labels = [], []
    for line, row in rows:
        if len(row) != width:
            raise InitlabError(f"{path} line {line}: expected {width} values, got {len(row)} (a ragged row)")
        values = []
        for j, cell in enumerate(row):
            if j == label_col:
                continue
            try:
                v = float(cell)
            except ValueError:
                col = header[j] if header else str(j + 1)
                raise InitlabError(f"{path} line {line}, column {col}: {cell.strip()!r} is not a number") from None
            if not np.isfinite(v):
                col = header[j] if header else str(j + 1)
                raise InitlabError(f"{path} line {line}, column {col}: {cell.strip()} is not finite")
            values.append(v)
        label = row[label_col].strip()
        if not label:
            col = header[label_col] if header else str(label_col + 1)
            raise InitlabError(f"{path} line {line}: the label is empty (column {col})")
        features.append(values)
        labels.append(label)
    return np.array(features, dtype=np.float64), labels


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise InitlabError(f"cannot read {path} as .npz: {str(e).strip().splitlines()[0]}") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise InitlabError(
            f"{path} holds a .npy array of shape {np.shape(z)}, not a .npz archive: save "
            f"with np.savez({path.name!r}, X=X, y=y)"
        )

    def array(key: str) -> np.ndarray:
        try:
            return z[key]
        except ValueError:  # numpy refuses object arrays without pickle
            raise InitlabError(
                f"{path}: {key} holds object arrays (pickled Python objects), which initlab "
                f"does not load: save numbers (or strings for y)"
            ) from None
        except (OSError, EOFError, KeyError) as e:
            raise InitlabError(f"cannot read {path}: array {key}: {e}") from None

    with z:
        for key in ("X", "y"):
            if key not in z.files:
                raise InitlabError(f"{path} lacks array {key!r}: expected X (m, n_x) and y (m,), got {sorted(z.files)}")
        X, y = array("X"), array("y")
        Xt = array("X_test") if "X_test" in z.files else None
        yt = array("y_test") if "y_test" in z.files else None
    if (Xt is None) != (yt is None):
        raise InitlabError(f"{path}: X_test and y_test come together; found only one")
    for xn, yn, Xa, ya in (("X", "y", X, y), ("X_test", "y_test", Xt, yt)):
        if Xa is None:
            continue
        if Xa.ndim != 2:
            raise InitlabError(f"{path}: {xn} must be 2-D (m, n_x), rows are examples; got shape {Xa.shape}")
        if ya.ndim != 1 or ya.shape[0] != Xa.shape[0]:
            raise InitlabError(f"{path}: {yn} must be ({Xa.shape[0]},) to match {xn} {Xa.shape}; got shape {ya.shape}")
        for name, a in ((xn, Xa), (yn, ya)):
            if np.issubdtype(a.dtype, np.complexfloating):
                raise InitlabError(
                    f"{path}: {name} is complex ({a.dtype}); initlab needs real numbers "
                    f"(its imaginary part would be dropped)"
                )
        if not np.issubdtype(Xa.dtype, np.number):
            raise InitlabError(f"{path}: {xn} must be numeric, got dtype {Xa.dtype}")
        bad = ~np.isfinite(Xa.astype(np.float64))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InitlabError(f"{path}: {xn} has non-finite values, first at row {i}, column {j}")
        if np.issubdtype(ya.dtype, np.floating):
            bad_y = ~np.isfinite(ya)
            if bad_y.any():
                i = int(np.argmax(bad_y))
                raise InitlabError(
                    f"{path}: {yn} has NaN or inf labels ({int(bad_y.sum())}), first at row {i}: {ya[i]}"
                )
        elif not (np.issubdtype(ya.dtype, np.integer) or ya.dtype.kind in "bUS"):
            raise InitlabError(f"{path}: {yn} must hold numbers or strings, got dtype {ya.dtype}")
    if Xt is not None and Xt.shape[1] != X.shape[1]:
        raise InitlabError(f"{path}: X has {X.shape[1]} features but X_test has {Xt.shape[1]}")
    return X.astype(np.float64), y, (None if Xt is None else Xt.astype(np.float64)), yt


def load_file(path: str | Path, *, seed: int | None = None, test_fraction: float = 0.2) -> Dataset:
    """A user's data set. Rows are examples (the usual file layout); initlab transposes.

    - ``.csv``: numeric feature columns and one label column: the column headed ``label``,
      ``y``, ``target`` or ``class``, else the last one. A header row is optional.
    - ``.npz``: arrays ``X (m, n_x)`` and ``y (m,)``, optionally ``X_test`` and ``y_test``.

    Labels may be any values (numbers or strings); they are sorted and numbered 0..K-1.
    Without a test set, a seeded stratified ``test_fraction`` of the rows becomes one.
    """
    path = Path(path)
    if not path.exists():
        raise InitlabError(f"data file {path} does not exist")
    if not path.is_file():  # a folder, a FIFO (reading it would wait forever), a device
        raise InitlabError(f"data file {path} is not a regular file")
    Xt = yt = None
    if path.suffix.lower() == ".npz":
        X, y, Xt, yt = _read_npz(path)
    elif path.suffix.lower() == ".csv":
        X, y = _read_csv(path)
        y = np.array(y)
    else:
        raise InitlabError(f"{path}: expected a .csv or .npz file, got {path.suffix or 'no suffix'}")
    all_labels = (
        np.concatenate([np.asarray(y).ravel(), np.asarray(yt).ravel()]) if yt is not None else np.asarray(y).ravel()
    )
    classes = sorted(set(all_labels.tolist()), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise InitlabError(
            f"{path}: the labels hold {len(classes)} class(es) {classes}; classification needs at least 2"
        )
    index = {c: k for k, c in enumerate(classes)}
    codes = np.array([index[v] for v in np.asarray(y).tolist()], dtype=np.int64)
    K = len(classes)
    if Xt is None:
        tr, te = _split(codes, test_fraction, 0 if seed is None else seed)
        Xtr, ytr, Xte, yte = X[tr], codes[tr], X[te], codes[te]
    else:
        Xtr, ytr = X, codes
        Xte, yte = Xt, np.array([index[v] for v in np.asarray(yt).tolist()], dtype=np.int64)
    return Dataset(
        path.name,
        Xtr.T.copy(),
        encode_labels(ytr, K),
        Xte.T.copy(),
        encode_labels(yte, K),
        classes=classes,
        description=f"loaded from {path}",
    )
