"""Data sets: the course's exact sets, column layout, seeded splits, and a user's files."""

import numpy as np
import pytest
import sklearn.datasets

from initlab import data
from initlab.errors import InitlabError


def course_planar():
    """The course's load_planar_dataset, verbatim in substance (seeds NumPy globally)."""
    np.random.seed(1)
    m, N, a = 400, 200, 4
    X = np.zeros((m, 2))
    Y = np.zeros((m, 1), dtype="uint8")
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def course_circles():
    np.random.seed(1)
    train_X, train_Y = sklearn.datasets.make_circles(n_samples=300, noise=0.05)
    np.random.seed(2)
    test_X, test_Y = sklearn.datasets.make_circles(n_samples=100, noise=0.05)
    return train_X.T, train_Y.reshape(1, -1), test_X.T, test_Y.reshape(1, -1)


def test_flower_is_the_course_set_and_leaves_global_state_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    ds = data.load("flower")
    assert np.array_equal(np.random.get_state()[1], before)
    X, Y = course_planar()
    assert np.array_equal(ds.X_train, X) and np.array_equal(ds.Y_train, Y)
    assert ds.X_train.shape == (2, 400) and ds.Y_train.shape == (1, 400)


def test_circles_is_the_course_set():
    ds = data.load("circles")
    Xtr, Ytr, Xte, Yte = course_circles()
    for got, want in zip((ds.X_train, ds.Y_train, ds.X_test, ds.Y_test), (Xtr, Ytr, Xte, Yte), strict=True):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("name", data.names())
def test_builtins_column_layout_and_seeds(name):
    a, b, c = data.load(name, seed=5), data.load(name, seed=5), data.load(name, seed=6)
    assert a.X_train.shape[1] == a.Y_train.shape[1] and a.X_test.shape[1] == a.Y_test.shape[1]
    assert a.X_train.shape[0] == a.n_x and np.isfinite(a.X_train).all()
    assert np.array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    labels = a.Y_train.argmax(0) if a.n_y > 1 else a.Y_train[0]
    assert len(np.unique(labels)) >= 2


def test_digits_one_hot_and_stratified():
    ds = data.load("digits")
    assert ds.n_x == 64 and ds.n_y == 10 and ds.output == "softmax"
    assert np.all(ds.Y_train.sum(0) == 1)
    assert 0.18 < ds.X_test.shape[1] / (ds.X_train.shape[1] + ds.X_test.shape[1]) < 0.22
    assert ds.X_train.max() <= 1.0


def test_unknown_data_set_suggests():
    with pytest.raises(InitlabError, match="did you mean circles"):
        data.load("circle")


# ------------------------------------------------------------------------- user files
def test_csv_with_header_and_string_labels(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["x1,x2,label"] + [f"{a:.4f},{b:.4f},{'cat' if a > 0 else 'dog'}" for a, b in rng.standard_normal((50, 2))]
    f = tmp_path / "pets.csv"
    f.write_text("\n".join(rows) + "\n")
    ds = data.load(f, seed=0)
    assert ds.classes == ["cat", "dog"] and ds.n_x == 2 and ds.n_y == 1
    assert ds.X_train.shape[1] + ds.X_test.shape[1] == 50


def test_csv_without_header_three_classes(tmp_path):
    f = tmp_path / "three.csv"
    f.write_text("\n".join(f"{i * 0.1},{i % 3}" for i in range(30)))
    ds = data.load(str(f))
    assert ds.n_y == 3 and ds.Y_train.shape[0] == 3


@pytest.mark.parametrize(
    "text, words",
    [
        ("a,b,label\n1,2,0\n3,4\n5,6,1\n", ["line 3", "expected 3 values, got 2"]),
        ("a,b,label\n1,2,0\n3,x,1\n", ["line 3", "column b", "'x' is not a number"]),
        ("1,2,0\n3,nan,1\n", ["line 2", "not finite"]),
        ("a,b,label\n1,2,0\n3,4,0\n", ["1 class"]),
        ("", ["is empty"]),
    ],
)
def test_bad_csv_names_the_line(tmp_path, text, words):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(InitlabError) as e:
        data.load(f)
    for w in words:
        assert w in str(e.value)


def test_npz_with_test_set(tmp_path):
    rng = np.random.default_rng(0)
    f = tmp_path / "d.npz"
    np.savez(
        f,
        X=rng.standard_normal((40, 3)),
        y=rng.integers(0, 2, 40),
        X_test=rng.standard_normal((10, 3)),
        y_test=rng.integers(0, 2, 10),
    )
    ds = data.load(f)
    assert ds.X_train.shape == (3, 40) and ds.X_test.shape == (3, 10)


@pytest.mark.parametrize(
    "arrays, words",
    [
        ({"X": np.zeros((5, 2))}, "lacks array 'y'"),
        ({"X": np.zeros((5, 2)), "y": np.zeros(4)}, "y must be (5,)"),
        ({"X": np.zeros(5), "y": np.zeros(5)}, "must be 2-D"),
        ({"X": np.full((3, 2), np.inf), "y": np.array([0, 1, 0])}, "non-finite"),
    ],
)
def test_bad_npz(tmp_path, arrays, words):
    f = tmp_path / "bad.npz"
    np.savez(f, **arrays)
    with pytest.raises(InitlabError) as e:
        data.load(f)
    assert words in str(e.value)


def test_missing_file():
    with pytest.raises(InitlabError, match="does not exist"):
        data.load("no/such/file.csv")
