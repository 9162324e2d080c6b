"""Runs: `RunConfig` -> `train` -> `RunResult`, the one path every face trains by.

Laws over generated cases: a config's result is the same bits alone and in any group;
training in chunks (the dashboard) equals one call; a config's identity is stable and its
normal form is its identity; what the store writes is what the result says.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from initlab import Network
from initlab import data as datasets
from initlab.errors import InitlabError
from initlab.experiments.run import (
    CONFIG_COLUMNS,
    RESULT_COLUMNS,
    RunConfig,
    RunResult,
    Training,
    check_fits,
    config_hash,
    groups,
    train,
)
from initlab.nn import HIDDEN

from .conftest import SEEDS

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Generated shapes run on the reference engine: the compiled one builds a kernel per shape
#: (seconds each); `test_a_run_is_the_network_trained_alone` and tests/test_laws.py hold the
#: compiled engine to the same law on fixed shapes.
ENGINE = "reference"


def bits(*values: float) -> bytes:
    """Floats as their bytes: equal bits are equal, NaN included."""
    return np.array(values, dtype=np.float64).tobytes()


INITS = ("zeros", "random:0.01", "random:2", "he", "xavier", "constant:0.3")


@st.composite
def configs(draw) -> list[RunConfig]:
    """A few configs of one architecture on blobs, with different inits, seeds and rates."""
    hidden = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    layers = (2, *hidden, 1)
    act = draw(st.sampled_from(HIDDEN))
    iterations = draw(st.integers(0, 25))
    every = draw(st.integers(1, 7))
    n = draw(st.integers(1, 4))
    return [
        RunConfig(
            "blobs",
            layers,
            act,
            None,
            draw(st.sampled_from(INITS)),
            draw(st.sampled_from([0.01, 0.1, 0.5])),
            iterations,
            draw(st.integers(0, 2**40)),
            track_every=every,
        )
        for _ in range(n)
    ]


@SETTINGS
@given(configs())
def test_a_config_gets_the_same_bits_alone_and_in_a_group(cs: list[RunConfig]) -> None:
    together = train(cs, engine=ENGINE)
    for c, r in zip(cs, together, strict=True):
        (alone,) = train(c, engine=ENGINE)
        assert bits(*alone.costs) == bits(*r.costs)
        assert (alone.train_accuracy, alone.end, alone.start) == (r.train_accuracy, r.end, r.start)


@SETTINGS
@given(configs(), st.lists(st.integers(1, 9), min_size=1, max_size=4))
def test_training_in_chunks_ends_at_the_bits_of_one_call(cs: list[RunConfig], chunks: list[int]) -> None:
    """The dashboard steps a `Training` in chunks; where it stops equals `train` run that far."""
    total = sum(chunks)
    cs = [RunConfig(**{**c.__dict__, "iterations": total}) for c in cs]
    t = Training(cs, engine=ENGINE)
    for n in chunks:
        t.step(n)
    stepped = t.results()
    whole = train(cs, engine=ENGINE)
    for a, b in zip(stepped, whole, strict=True):
        assert bits(a.final_cost, a.initial_cost) == bits(b.final_cost, b.initial_cost) and a.end == b.end
        assert a.iterations[0] == 0 and a.iterations[-1] == total


def test_a_run_is_the_network_trained_alone() -> None:
    """`train` is `Network(...).fit(...)`, not a twin of it: the same final cost to the bit."""
    ds = datasets.load("flower")
    (r,) = train(RunConfig(iterations=300, seed=5))
    net = Network([2, 4, 1], hidden="tanh", init="random:0.01", seed=5)
    h = net.fit(ds.X_train, ds.Y_train, lr=1.2, iterations=300, record_every=3)
    assert r.final_cost == float(h.final_cost) and r.engine == "fast"
    assert r.train_accuracy == net.accuracy(ds.X_train, ds.Y_train)
    t = Training([RunConfig(iterations=300, seed=5)])  # the dashboard's chunks, compiled engine
    for n in (1, 2, 297):
        t.step(n)
    assert t.results()[0].final_cost == r.final_cost


def test_measures_come_from_the_tracker_and_zeros_stay_symmetric() -> None:
    zeros, he = train(
        [RunConfig("circles", (2, 6, 3, 1), "relu", None, i, 0.05, 40, 1, ("symmetry",), 5) for i in ("zeros", "he")]
    )
    assert zeros.start.effective_width == zeros.end.effective_width == (1, 1)
    assert zeros.symmetric_every_step and zeros.end.symmetric
    assert he.end.effective_width == (6, 3) and not he.symmetric_every_step
    assert (
        zeros.end.dead_fraction[0] is not None and zeros.end.saturated_fraction[0] is None
    )  # relu dies, never saturates
    assert zeros.curves["iteration"] == [0, 5, 10, 15, 20, 25, 30, 35, 40]
    (plain,) = train(RunConfig("circles", (2, 6, 3, 1), "relu", None, "zeros", 0.05, 40, 1))
    assert plain.curves["iteration"] == [0, 40] and plain.symmetric_every_step is None  # start and end only
    assert plain.end == zeros.end and plain.final_cost == zeros.final_cost  # tracking changes no number


def test_identity_normal_form_and_first_version_ids() -> None:
    """``HE`` and ``he`` are one run; the first store's ids (a hash of 11 fields) stay."""
    a = RunConfig("circles", (2, 4, 1), "relu", None, "HE", 0.1, 10, 3)
    b = RunConfig("circles", [2, 4, 1], "relu", "sigmoid", "he", 0.1, 10, 3, loss="binary_cross_entropy")
    assert a.id == b.id and a.init == "HE"  # kept as written, identified canonically
    first_version = {
        "data": "circles",
        "layers": [2, 4, 1],
        "hidden": "relu",
        "output": "sigmoid",
        "init": "he",
        "lr": 0.1,
        "iterations": 10,
        "seed": 3,
        "track": [],
        "track_every": 1,
        "data_seed": None,
    }
    assert a.id == config_hash(first_version)
    assert RunConfig("circles", (2, 4, 1), "relu", None, "he", 0.1, 10, 3, examples=50).id != a.id
    assert RunConfig("circles", (2, 4, 1), "relu", None, "he", 0.1, 10, 3, loss="mse").id != a.id


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"layers": (2, 0, 1)}, "layer 1 has width 0"),
        ({"hidden": "relux"}, "relux"),
        ({"output": "nope"}, "output activation"),
        ({"init": "he:3,4,5"}, "he"),
        ({"lr": -1}, "lr must be a finite number > 0"),
        ({"lr": float("nan")}, "lr must be"),
        ({"iterations": 2.5}, "iterations must be a non-negative integer"),
        ({"iterations": True}, "iterations must be a non-negative integer"),
        ({"seed": -3}, r"seed must be an integer from 0 to 2\*\*63 - 1, got -3"),
        ({"seed": 2**63}, r"seed must be an integer from 0 to 2\*\*63 - 1"),
        ({"track": ("weight",)}, "cannot track 'weight'"),
        ({"track_every": 0}, "track_every must be a positive integer"),
        ({"examples": 0}, "examples must be a positive number"),
        ({"output": "relu"}, "has no default loss"),
        ({"output": "softmax"}, "softmax output needs at least 2 units"),
        ({"loss": "cross_entropy"}, "loss 'cross_entropy' does not go with output 'sigmoid'"),
    ],
)
def test_a_bad_config_is_refused_when_made_naming_the_field(kwargs: dict, words: str) -> None:
    """Refused by `RunConfig` itself, before any training (the output/loss rule is the
    network's, `nn.losses.output_and_loss`)."""
    with pytest.raises(InitlabError, match=words):
        RunConfig(**kwargs)


def test_layers_that_do_not_fit_the_data_one_message_everywhere() -> None:
    ds = datasets.load("circles")
    with pytest.raises(InitlabError, match=r"layers 3,4,1 do not fit circles: it has 2 features"):
        check_fits((3, 4, 1), ds)
    with pytest.raises(InitlabError, match=r"do not fit circles"):
        train(RunConfig("circles", (2, 4, 2), iterations=1))
    with pytest.raises(InitlabError, match=r"more than the \d+ training examples"):
        train(RunConfig("circles", examples=10**6, iterations=1))


def test_groups_share_an_ensemble_only_when_they_can() -> None:
    cs = [
        RunConfig("circles", (2, 4, 1), "relu", None, "he", 0.1, 10, 0),
        RunConfig("circles", (2, 4, 1), "relu", None, "xavier", 0.5, 10, 1),
        RunConfig("circles", (2, 4, 1), "tanh", None, "he", 0.1, 10, 0),
        RunConfig("circles", (2, 4, 1), "relu", None, "he", 0.1, 11, 0),
        RunConfig("circles", (2, 4, 1), "relu", None, "zeros", 0.1, 10, 2),
    ]
    assert groups(cs) == [[0, 1, 4], [2], [3]]
    assert groups(cs, chunk=2) == [[0, 1], [4], [2], [3]]
    with pytest.raises(InitlabError, match="must share"):
        Training(cs[:3])
    results = train(cs)
    assert [r.config for r in results] == cs  # in the given order


def test_the_store_columns_are_the_results() -> None:
    """`RunResult.row` has exactly the store's measured columns, `RunConfig.row` its config
    columns, and `to_dict` (train --json) carries every measured column and is strict JSON."""
    (r,) = train(RunConfig("circles", (2, 3, 1), "relu", None, "random:50", 5.0, 30, 0))
    assert set(r.row()) == set(RESULT_COLUMNS)
    assert set(r.config.row()) == set(CONFIG_COLUMNS)
    d = r.to_dict()
    assert set(RESULT_COLUMNS) <= set(d)
    json.dumps(d, allow_nan=True)
    if r.diverged_at is not None:  # a diverged run stores NULL, not NaN
        assert r.row()["final_cost"] is None and not np.isfinite(r.final_cost)
    assert isinstance(r, RunResult) and r._repr_html_().startswith("<table>")


def test_a_regression_trains_and_has_no_accuracy() -> None:
    (r,) = train(RunConfig("circles", (2, 3, 1), "tanh", "sigmoid", "he", 0.1, 5, 0, loss="mse"))
    assert r.train_accuracy is None and r.test_accuracy is None and np.isfinite(r.final_cost)
    assert r.config.loss == "mse" and r.config.to_dict()["loss"] == "mse"


def test_compare_reads_a_spec_with_a_comma_as_one_init(capsys) -> None:
    from .conftest import run

    code, out, err = run(
        [
            "compare",
            "--data",
            "blobs",
            "--layers",
            "2,3,1",
            "--inits",
            "he,variance_scaling:2,fan_out",
            "--iterations",
            "3",
            "--seeds",
            "1",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["config"]["inits"] == ["he", "variance_scaling:2,fan_out"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"hidden": 5}, "hidden must be a name or a list of names, got 5"),
        ({"track": None}, "track must be a name or a list of names"),
        ({"output": 3}, "output must be a string, got 3"),
        ({"data": None}, "data must be a string"),
        ({"data_seed": -1}, "data seed must be a non-negative integer, got -1"),
        ({"examples": 1.5}, "examples must be a non-negative integer or None"),
        ({"lr": True}, "lr must be a number, got True"),
    ],
)
def test_wrong_types_are_one_line(kwargs: dict, words: str) -> None:
    """Found by a new-user trial: these gave TypeErrors from deep inside, or np.int64 fields
    that broke `id` and JSON later."""
    with pytest.raises(InitlabError, match=words):
        RunConfig(**kwargs)


def test_numpy_integers_become_ints_and_track_order_is_one_identity() -> None:
    c = RunConfig(examples=np.int64(50), data_seed=np.int64(7), seed=np.uint64(3))
    assert type(c.examples) is int and type(c.data_seed) is int and json.dumps(c.to_dict())
    a = RunConfig(track=("saturation", "symmetry"))
    assert a.id == RunConfig(track=("symmetry", "saturation", "symmetry")).id


def test_training_refuses_a_step_past_its_iterations_and_a_non_config() -> None:
    t = Training([RunConfig(iterations=5)], engine=ENGINE)
    assert t.results()[0].iterations == (0,)  # nothing trained: the measures at initialization
    t.step(3)
    with pytest.raises(InitlabError, match=r"step takes 0 to 2 iterations"):
        t.step(10)
    t.step(2)
    assert t.results()[0].iterations[-1] == 5
    with pytest.raises(InitlabError, match="train takes RunConfig objects, got dict"):
        train([{"data": "flower"}])


def test_compare_refuses_the_same_run_twice_and_html_is_escaped() -> None:
    from initlab.experiments import CompareConfig

    with pytest.raises(InitlabError, match="repeat an initializer"):
        CompareConfig(inits=("he", "HE"))
    with pytest.raises(InitlabError, match="seeds repeat a seed"):
        CompareConfig(seeds=(3, 3))
    (r,) = train(RunConfig("blobs", (2, 2, 1), iterations=1))
    page = RunResult(**{**r.__dict__, "config": RunConfig("<b>x", (2, 2, 1), iterations=1)})._repr_html_()
    assert "<b>x" not in page and "&lt;b&gt;x" in page


# ------------------------------------------------------- a critical point's biases come with it
@pytest.mark.parametrize("seed", SEEDS)
def test_a_critical_init_draws_its_own_biases_unless_told(seed):
    """``critical:gelu,0.3`` is the pair (sigma_w^2*, sigma_b^2 = 0.3): its biases are drawn from
    N(0, 0.3) by default (they were zeros outside `initlab deep`: the ordered phase for GELU)."""
    net = Network([4, 200, 200, 1], hidden="gelu", init="critical:gelu,0.3", seed=seed, ensemble=8)
    b = net.params["b1"].ravel()  # 1600 draws: Var's standard error is 0.3 * sqrt(2 / 1600)
    assert abs(b.var() - 0.3) < 4 * 0.3 * np.sqrt(2 / b.size)
    assert not net.params["b3"].any() or net.params["b3"].var() > 0  # the output layer too
    told = Network([4, 200, 1], hidden="gelu", init="critical:gelu,0.3", bias="zeros", seed=seed)
    assert not told.params["b1"].any()
    mixed = Network([4, 50, 1], hidden="gelu", init=["he", "critical:gelu,0.3"], seed=[seed, seed])
    assert not mixed.member(0).params["b1"].any() and mixed.member(1).params["b1"].any()


def test_run_config_bias_defaults_to_the_inits_own_and_ids_say_so():
    crit = RunConfig("circles", (2, 5, 1), "gelu", None, "critical:gelu,0.3")
    assert crit.bias == "random:0.5477225575051661"
    zeros = RunConfig("circles", (2, 5, 1), "gelu", None, "critical:gelu,0.3", bias="zeros")
    assert crit.id != zeros.id and crit.group != zeros.group
    he = RunConfig("circles", (2, 5, 1), "relu", None, "he")
    assert he.bias == "zeros" and "bias" not in he.identity()  # the first store's ids stay
    assert he.id == RunConfig("circles", (2, 5, 1), "relu", None, "he", bias="zeros").id
    (r,) = train([RunConfig("circles", (2, 5, 1), "gelu", None, "critical:gelu,0.3", iterations=2)])
    assert r.config.bias == crit.bias
