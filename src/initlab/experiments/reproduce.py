"""Published results, reproduced by following the publication's procedure exactly.

``course-initialization``: the course's Initialization notebook (its circles; zeros;
``np.random.seed(3)`` then ``randn * 10``; ``np.random.seed(3)`` then He; lr 0.01, 15,000
iterations), run through `initlab.course.initialization`.
``course-planar``: the planar notebook: logistic regression on the flower, and the hidden-layer
size table (1, 2, 3, 4, 5, 20, 50 units; 5,000 iterations), through `initlab.course.planar`.

Every published figure is printed beside the measured one.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from initlab.errors import unknown

# The course's printed output (Initialization notebook): cost every 1000 iterations, accuracies.
PUBLISHED_INITIALIZATION = {
    "zeros": {
        "costs": [0.6931471805599453] * 10 + [0.6931471805599455] + [0.6931471805599453] * 4,
        "train_accuracy": 0.5,
        "test_accuracy": 0.5,
    },
    "random": {
        "costs": [
            float("inf"),
            0.6250982793959966,
            0.5981216596703697,
            0.5638417572298645,
            0.5501703049199763,
            0.5444632909664456,
            0.5374513807000807,
            0.4764042074074983,
            0.39781492295092263,
            0.3934764028765484,
            0.3920295461882659,
            0.38924598135108,
            0.3861547485712325,
            0.384984728909703,
            0.3827828308349524,
        ],
        "train_accuracy": 0.83,
        "test_accuracy": 0.86,
    },
    "he": {
        "costs": [
            0.8830537463419761,
            0.6879825919728063,
            0.6751286264523371,
            0.6526117768893807,
            0.6082958970572937,
            0.5304944491717495,
            0.4138645817071793,
            0.3117803464844441,
            0.23696215330322556,
            0.18597287209206828,
            0.15015556280371808,
            0.12325079292273548,
            0.09917746546525937,
            0.08457055954024274,
            0.07357895962677366,
        ],
        "train_accuracy": 0.9933333333333333,
        "test_accuracy": 0.96,
    },
}

# The planar notebook: logistic regression ~47%; hidden-layer sizes (training accuracy, %).
# The 20- and 50-unit figures differ slightly between editions of the notebook ("about").
PUBLISHED_PLANAR = {
    "logistic_regression": 47.0,
    "hidden_sizes": {1: 67.5, 2: 67.25, 3: 90.75, 4: 90.5, 5: 91.25, 20: 90.0, 50: 90.5},
    "approximate": [20, 50],
}


@dataclass
class Reproduction:
    name: str
    rows: list[dict]
    notes: list[str]

    def to_dict(self) -> dict:
        return {"name": self.name, "rows": self.rows, "notes": self.notes}

    def lines(self) -> list[str]:
        out = [f"reproducing {self.name}", ""]
        if self.name == "course-initialization":
            for row in self.rows:
                out.append(f"initialization = {row['initialization']!r}")
                out.append(f"  {'iteration':>9}  {'published cost':>22}  {'measured cost':>22}  {'difference':>11}")
                for i, (p, m) in enumerate(zip(row["published_costs"], row["measured_costs"], strict=True)):
                    d = "-" if not (np.isfinite(p) and np.isfinite(m)) else f"{m - p:+.2e}"
                    out.append(f"  {1000 * i:>9}  {p:>22}  {m:>22}  {d:>11}")
                out.append(
                    f"  train accuracy: published {row['published_train_accuracy']:.4f}, "
                    f"measured {row['measured_train_accuracy']:.4f}"
                )
                out.append(
                    f"  test accuracy:  published {row['published_test_accuracy']:.4f}, "
                    f"measured {row['measured_test_accuracy']:.4f}"
                )
                out.append("")
        else:
            out.append(f"{'model':<34}{'published %':>12}{'measured %':>12}")
            for row in self.rows:
                pub = row["published"]
                pub_s = ("about " if row.get("approximate") else "") + f"{pub:g}"
                out.append(f"{row['model']:<34}{pub_s:>12}{row['measured']:>12.2f}")
            out.append("")
        out += [f"note: {n}" for n in self.notes]
        return out


def course_initialization() -> Reproduction:
    from initlab.course import initialization as course

    train_X, train_Y, test_X, test_Y = course.load_dataset()
    rows = []
    for init, pub in PUBLISHED_INITIALIZATION.items():
        costs = []
        buf = io.StringIO()  # model() prints the course's cost lines: read them back as numbers
        with contextlib.redirect_stdout(buf):
            params = course.model(train_X, train_Y, initialization=init, print_cost=True)
            p_train = course.predict(train_X, train_Y, params)
            p_test = course.predict(test_X, test_Y, params)
        for line in buf.getvalue().splitlines():
            if line.startswith("Cost after iteration"):
                costs.append(float(line.rsplit(":", 1)[1]))
        rows.append(
            {
                "initialization": init,
                "published_costs": pub["costs"],
                "measured_costs": costs,
                "published_train_accuracy": pub["train_accuracy"],
                "measured_train_accuracy": float(np.mean(p_train == train_Y)),
                "published_test_accuracy": pub["test_accuracy"],
                "measured_test_accuracy": float(np.mean(p_test == test_Y)),
            }
        )
    notes = [
        "zeros and He: every published cost matches to about 1e-16, and every accuracy matches.",
        "random (weights randn * 10): the accuracies match; the costs agree within 0.004. This "
        "run is sensitive to the last bit of arithmetic: its outputs start saturated and its "
        "ReLU units flip on and off. The course's own code, written out verbatim and run on "
        "this machine, prints 0.62442 at iteration 1000 (published 0.62510, initlab 0.62421): "
        "the published figure reflects the course's NumPy and BLAS, not a different method.",
    ]
    return Reproduction("course-initialization", rows, notes)


def course_planar() -> Reproduction:
    import warnings

    from sklearn.linear_model import LogisticRegressionCV

    from initlab.course import planar as course

    X, Y = course.load_planar_dataset()
    clf = LogisticRegressionCV()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X.T, Y.ravel())
    lr_acc = 100 * float(np.mean(clf.predict(X.T) == Y.ravel()))
    rows = [
        {
            "model": "logistic regression (LogisticRegressionCV)",
            "published": PUBLISHED_PLANAR["logistic_regression"],
            "measured": lr_acc,
            "approximate": True,
        }
    ]
    for n_h, pub in PUBLISHED_PLANAR["hidden_sizes"].items():
        params = course.nn_model(X, Y, n_h, num_iterations=5000)
        pred = course.predict(params, X)
        rows.append(
            {
                "model": f"{n_h} hidden unit(s), 5000 iterations",
                "n_h": n_h,
                "published": pub,
                "measured": 100 * float(np.mean(pred == Y)),
                "approximate": n_h in PUBLISHED_PLANAR["approximate"],
            }
        )
    notes = [
        "initlab follows the current edition of the notebook (initialize_parameters does not "
        "seed; nn_model seeds 3). An older edition seeded 2 inside initialize_parameters, which "
        "moves single figures of this table by a few points."
    ]
    return Reproduction("course-planar", rows, notes)


EXPERIMENTS = {"course-initialization": course_initialization, "course-planar": course_planar}


def reproduce(name: str) -> Reproduction:
    """Run a published experiment by name (``EXPERIMENTS``)."""
    if name not in EXPERIMENTS:
        raise unknown("experiment", name, list(EXPERIMENTS))
    return EXPERIMENTS[name]()
