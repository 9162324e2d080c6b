"""Symmetry and saturation, measured on real training runs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import initlab
from initlab import Network, data
from initlab.diagnose import saturation, symmetry
from initlab.errors import InitlabError

from .conftest import SEEDS


@pytest.fixture(scope="module")
def flower():
    return data.load("flower")


@pytest.fixture(scope="module")
def unbalanced():
    """The flower's first 260 points: 200 of class 0, 60 of class 1. On balanced data a
    zero-initialized network has nothing to learn at all: even the output bias's gradient,
    mean(A - Y) = 0.5 - 0.5, is 0."""
    ds = data.load("flower")
    return ds.X_train[:, :260], ds.Y_train[:, :260]


def test_balanced_data_zero_init_learns_nothing(flower):
    net = Network([2, 4, 1], hidden="sigmoid", init="zeros")
    net.fit(flower.X_train, flower.Y_train, lr=1.2, iterations=50)
    assert all(np.all(v == 0) for v in net.params.values())


# -------------------------------------------------------------------------- symmetry
@pytest.mark.parametrize("init", ["zeros", "constant:0.5"])
def test_sigmoid_hidden_from_symmetric_init_stays_one_unit(unbalanced, init):
    """The induction, observed: effective width 1 at every one of 1000 iterations."""
    X, Y = unbalanced
    net = Network([2, 4, 1], hidden="sigmoid", init=init, seed=0)
    grads0 = net.gradients(X, Y)
    assert np.all(grads0["dW1"] == grads0["dW1"][0])  # dW1 has identical rows
    h = net.fit(X, Y, lr=1.2, iterations=1000, track=("symmetry",), track_every=1)
    assert len(h.tracked.iterations) == 1001
    assert h.effective_widths.shape == (1001, 1) and np.all(h.effective_widths == 1)
    assert h.symmetric_every_step is True
    assert np.abs(net.params["W1"]).max() > 0.01  # it learned, as one unit
    g = net.gradients(X, Y)
    assert np.all(g["dW1"] == g["dW1"][0])


@pytest.mark.parametrize("hidden", ["tanh", "relu", "leaky_relu"])
def test_zero_init_tanh_relu_only_output_bias_learns(unbalanced, hidden):
    net = Network([2, 4, 1], hidden=hidden, init="zeros")
    net.fit(*unbalanced, lr=1.2, iterations=300)
    for k in ("W1", "b1", "W2"):
        assert np.all(net.params[k] == 0), k
    assert net.params["b2"][0, 0] != 0


@pytest.mark.parametrize("seed", SEEDS)
def test_random_init_full_width(flower, seed):
    net = Network([2, 4, 3, 1], hidden="tanh", init="random:0.01", seed=seed)
    h = net.fit(flower.X_train, flower.Y_train, lr=1.2, iterations=200, track=("symmetry",), track_every=50)
    assert np.all(h.effective_widths == [4, 3]) and h.symmetric_every_step is False


def test_groups_of_hand_built_duplicates():
    rng = np.random.default_rng(0)
    p = {
        "W1": rng.standard_normal((5, 3)),
        "b1": rng.standard_normal((5, 1)),
        "W2": rng.standard_normal((1, 5)),
        "b2": np.zeros((1, 1)),
    }
    for src, dst in ((0, 3), (0, 4)):
        p["W1"][dst], p["b1"][dst], p["W2"][:, dst] = p["W1"][src], p["b1"][src], p["W2"][:, src]
    rep = symmetry(p)
    assert rep.layers[0].groups == [[0, 3, 4], [1], [2]] and rep.effective_widths == [3]
    assert "3 of 5 units distinct" in rep.layers[0].sentence()
    p["W2"][0, 4] += 1.0  # same incoming row, different outgoing weight: a different unit
    assert symmetry(p).effective_widths == [4]
    p["W1"][3] += 1e-9
    assert symmetry(p).effective_widths == [5]
    assert symmetry(p, atol=1e-8).effective_widths == [4]


def test_negative_zero_equals_zero():
    p = {
        "W1": np.array([[0.0, 1.0], [-0.0, 1.0]]),
        "b1": np.zeros((2, 1)),
        "W2": np.array([[0.5, 0.5]]),
        "b2": np.zeros((1, 1)),
    }
    assert symmetry(p).effective_widths == [1]


def test_symmetry_on_ensembles_and_spread():
    ens = Network([2, 6, 3, 1], init=["zeros", "he", "constant:0.2"], seed=[0, 0, 0])
    reps = symmetry(ens.params)
    assert [r.effective_widths for r in reps] == [[1, 1], [6, 3], [1, 1]]
    assert reps[0].layers[0].spread == 0.0 and reps[1].layers[0].spread > 0
    with pytest.raises(InitlabError, match="atol"):
        symmetry(ens.params, atol=-1)


@given(seed=st.integers(0, 10**6), n=st.integers(2, 8), dup=st.integers(0, 7))
def test_duplicated_unit_always_found(seed, n, dup):
    rng = np.random.default_rng(seed)
    p = initlab.initialize_parameters_deep([3, n, 2], init="he", bias="random:0.1", seed=rng)
    assert symmetry(p).effective_widths == [n]
    i = dup % n
    j = (i + 1) % n
    p["W1"][j], p["b1"][j], p["W2"][:, j] = p["W1"][i], p["b1"][i], p["W2"][:, i]
    rep = symmetry(p)
    assert rep.effective_widths == [n - 1] and sorted([i, j]) in rep.layers[0].groups


# ------------------------------------------------------------------------ saturation
@pytest.mark.parametrize("seed", SEEDS)
def test_tanh_saturation_grows_with_scale_and_slows_learning(flower, seed):
    scales = [0.01, 0.1, 1, 10, 100]
    inits = [f"random:{s}" for s in scales]
    ens = Network([2, 4, 1], hidden="tanh", init=inits, seed=[seed] * 5)
    at_init = saturation(ens, flower.X_train).layers[0].saturated_fraction
    assert np.all(np.diff(at_init) >= 0) and at_init[-1] > at_init[2] > at_init[0]
    assert at_init[-1] > 0.5
    h = ens.fit(flower.X_train, flower.Y_train, lr=1.2, iterations=1000)
    assert h.final_cost[-1] > h.final_cost[0]


def test_saturation_fields_and_dead_relu(flower):
    net = Network([2, 5, 1], hidden="relu", init="he", seed=0)
    net.params["b1"][:2] = -100.0  # two units never fire on this data
    rep = saturation(net, flower.X_train, flower.Y_train)
    hidden, out = rep.layers
    assert hidden.dead_fraction == pytest.approx(2 / 5) and hidden.saturated_fraction is None
    assert out.saturated_fraction is not None and out.dead_fraction is None
    assert hidden.gradient_norm > 0 and hidden.mean_abs_z > 0
    assert set(rep.to_dict()["layers"][0]) >= {
        "saturated_fraction",
        "mean_abs_grad",
        "dead_fraction",
        "mean_abs_z",
        "gradient_norm",
    }


def test_saturation_threshold_is_stated_and_applied():
    net = Network([1, 1, 1], hidden="tanh", init="constant:1")
    X = np.array([[0.0, 1.0, 2.0, 3.0]])
    rep = saturation(net, X, threshold=0.05)
    # tanh'(z) < 0.05 exactly when |z| > 2.178...: z = 3 only
    assert rep.threshold == 0.05 and rep.layers[0].saturated_fraction == pytest.approx(0.25)


def test_tracking_saturation_and_weights(flower):
    net = Network([2, 3, 1], hidden="tanh", init="random:0.01", seed=0)
    h = net.fit(flower.X_train, flower.Y_train, lr=1.2, iterations=40, track=("saturation", "weights"), track_every=10)
    arr = h.tracked.arrays()
    assert arr["saturated_fraction"].shape == (5, 2) and len(h.tracked.weights) == 5
    assert np.array_equal(h.tracked.weights[-1]["W1"], net.params["W1"])
    with pytest.raises(InitlabError, match="cannot track 'symetry'"):
        net.fit(flower.X_train, flower.Y_train, lr=1, iterations=1, track=("symetry",))


# ------------------------------------------------------------ validation at the edge
def _params():
    return Network([3, 4, 2, 1], hidden="relu", init="he", seed=0).params


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda p: {**p, "W2": p["W2"].T}, ["W2", "(4, 2)", "expected (n2, 4)"]),
        (lambda p: {**p, "b1": p["b1"].ravel()}, ["b1", "(4,)", "expected (4, 1)"]),
        (lambda p: {k: v for k, v in p.items() if k != "b2"}, ["lack b2"]),
        (lambda p: {k: v for k, v in p.items() if k != "W2"}, ["lack W2"]),
        (lambda p: {}, ["lack W1, b1"]),
        (lambda p: {**p, "W3": "abc"}, ["W3", "numbers"]),
        (lambda p: {**p, "W1": np.ones(3)}, ["W1", "(3,)"]),
        (lambda p: {**p, "b3": np.zeros((2, 1))}, ["b3", "(2, 1)", "expected (1, 1)"]),
        (lambda p: {k: np.stack([v, v]) if k != "W2" else v for k, v in p.items()}, ["W2", "expected (2, n2, 4)"]),
        (lambda p: list(p.values()), ["parameter dict", "got list"]),
        (lambda p: {k: v for k, v in p.items() if k != "W3"}, ["lack W3"]),  # b3 says there is a layer 3
        (lambda p: {**p, "W0": p["W1"]}, ["W0", "count from 1"]),
    ],
)
def test_symmetry_bad_params_are_one_line_naming_the_key(change, words):
    with pytest.raises(InitlabError) as e:
        symmetry(change(_params()))
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_symmetry_accepts_a_network():
    net = Network([3, 4, 1], init="zeros")
    assert symmetry(net).effective_widths == symmetry(net.params).effective_widths == [1]
    ens = Network([3, 4, 1], init=["zeros", "he"], seed=[0, 0])
    assert [r.effective_widths for r in symmetry(ens)] == [[1], [4]]


@pytest.mark.parametrize("fn", ["saturation", "propagation"])
@pytest.mark.parametrize(
    "args, words",
    [
        (lambda n, X, Y: (n.params, X), ["needs a Network", "got dict", "from_params"]),
        (lambda n, X, Y: (n, X[:2]), ["X has shape (2, 5)", "expected (3, m)"]),
        (lambda n, X, Y: (n, X, np.ones((2, 5))), ["Y has shape (2, 5)", "expected (1, 5)"]),
        (lambda n, X, Y: (n, X, Y[:, :4]), ["Y has shape (1, 4)"]),
    ],
)
def test_saturation_and_propagation_check_their_inputs(fn, args, words):
    from initlab.diagnose import propagation as prop

    f = saturation if fn == "saturation" else prop.propagation
    net = Network([3, 4, 1], hidden="relu", init="he", seed=0)
    X, Y = np.ones((3, 5)), np.ones((1, 5))
    with pytest.raises(InitlabError) as e:
        f(*args(net, X, Y))
    assert "\n" not in str(e.value) and all(w in str(e.value) for w in words), str(e.value)
