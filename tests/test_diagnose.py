"""Symmetry and saturation, measured on real training runs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import initlab
from initlab import Network, data
from initlab.diagnose import saturation, symmetry
from initlab.errors import InitlabError
from initlab.nn.activations import HIDDEN

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
    rep = symmetry(ens.params)
    assert rep.ensemble == 3 and rep.effective_widths.shape == (3, 2)
    assert rep.effective_widths.tolist() == [[1, 1], [6, 3], [1, 1]]
    assert rep.symmetric.tolist() == [True, False, True] and rep.widths == [6, 3]
    assert rep.layers[0].spread.tolist()[0] == 0.0 and rep.layers[0].spread[1] > 0
    assert rep.layers[0].groups[0] == [list(range(6))] and rep.member(1).layers[0].groups == [[i] for i in range(6)]
    assert repr(rep) == (
        "SymmetryReport(3 networks; layer 1: 1, 6, 1 of 6 units distinct; layer 2: 1, 3, 1 of 3 units distinct)"
    )
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
    assert symmetry(ens).effective_widths.tolist() == [[1], [4]]


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


# ------------------------------------------- one shape for one network and an ensemble
def _same(a, b, path="result"):
    """``a == b`` for two ``to_dict()``s, floats to 1e-12 relative and nan equal to nan: the
    law "an ensemble member equals the network alone" holds to floating-point tolerance."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (path, a, b)
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (path, a, b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert isinstance(b, (int, float)), (path, a, b)
        assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-300), (path, a, b)
    else:
        assert type(a) is type(b) and a == b, (path, a, b)


INITS = ["zeros", "constant:0.5", "constant:-0.3", "random:0.5", "he", "xavier"]


@st.composite
def ensembles(draw):
    """An ensemble of 1 to 4 networks of 0 to 3 hidden layers (any hidden activation, any
    output), members drawn from inits that include zeros and constants (identical units), some
    units copied by hand, with data and, half the time, labels."""
    seed = draw(st.integers(0, 10**6))
    rng = np.random.default_rng(seed)
    hidden = draw(st.lists(st.integers(1, 5), min_size=0, max_size=3))
    output = draw(st.sampled_from(["sigmoid", "softmax", "identity"]))
    n_y = draw(st.integers(2 if output == "softmax" else 1, 3))
    dims = [draw(st.integers(1, 4)), *hidden, n_y]
    acts = draw(st.lists(st.sampled_from(HIDDEN), min_size=len(hidden), max_size=len(hidden)))
    E = draw(st.integers(1, 4))
    inits = draw(st.lists(st.sampled_from(INITS), min_size=E, max_size=E))
    bias = draw(st.sampled_from(["zeros", "constant:0.1", "random:0.2"]))
    net = Network(dims, hidden=acts, output=output, init=inits, bias=bias, seed=[seed] * E)
    for l in range(1, len(dims) - 1):  # a copied unit in some members: found in those only
        if dims[l] > 1 and draw(st.booleans()):
            e = draw(st.integers(0, E - 1))
            p = net.params
            p[f"W{l}"][e, 1], p[f"b{l}"][e, 1], p[f"W{l + 1}"][e, :, 1] = (
                p[f"W{l}"][e, 0],
                p[f"b{l}"][e, 0],
                p[f"W{l + 1}"][e, :, 0],
            )
    m = draw(st.integers(1, 6))
    X = rng.standard_normal((dims[0], m)) * draw(st.sampled_from([0.1, 1.0, 10.0]))
    if output == "sigmoid":
        Y = (rng.random((n_y, m)) < 0.5).astype(float)
    elif output == "softmax":
        Y = np.eye(n_y)[:, rng.integers(0, n_y, m)]
    else:
        Y = rng.standard_normal((n_y, m))
    return net, X, Y if draw(st.booleans()) else None


def _diagnostics(net, X, Y):
    from initlab.diagnose.propagation import propagation

    return {
        "symmetry": symmetry(net),
        "symmetry(atol)": symmetry(net.params, atol=1e-3),
        "saturation": saturation(net, X, Y),
        "propagation": propagation(net, X, Y, seed=3),
    }


@given(case=ensembles())
def test_member_k_of_an_ensembles_diagnostic_is_the_diagnostic_of_member_k_alone(case):
    from initlab.report.strict_json import to_json

    ens, X, Y = case
    E = ens.ensemble
    with np.errstate(all="ignore"):
        whole = _diagnostics(ens, X, Y)
        alone = [_diagnostics(ens.member(k), X, Y) for k in range(E)]
    for name, rep in whole.items():
        assert rep.ensemble == E, name
        to_json(rep.to_dict())  # strict JSON, nan spelled out
        for k in range(E):
            one = alone[k][name]
            assert one.ensemble is None and type(one) is type(rep.member(k)), name
            to_json(one.to_dict())
            _same(rep.member(k).to_dict(), one.to_dict(), f"{name}.member({k})")
            if name.startswith("symmetry"):  # exact: the same parameters, sliced
                assert rep.member(k) == one and [s.sentence() for s in rep.member(k).layers] == [
                    s.sentence() for s in one.layers
                ]
        # the ensemble's fields lead with (E,): each array's row k is member k's number
        for layer in rep.layers:
            for f, v in vars(layer).items():
                if isinstance(v, np.ndarray):
                    assert v.shape == (E,), (name, f, v.shape)
    sym = whole["symmetry"]
    assert sym.effective_widths.shape == (E, len(ens.layer_dims) - 2) and sym.symmetric.shape == (E,)
    for k in range(E):
        assert sym.effective_widths[k].tolist() == alone[k]["symmetry"].effective_widths
        assert bool(sym.symmetric[k]) is alone[k]["symmetry"].symmetric
        for name in ("saturated_fraction", "dead_fraction", "mean_abs_z"):
            row, one = whole["saturation"].per_layer(name)[k], alone[k]["saturation"].per_layer(name)
            assert row.shape == one.shape == (len(ens.layer_dims) - 1,)
            np.testing.assert_allclose(row, one, rtol=1e-12, atol=0)


def test_zero_init_units_are_one_group_in_every_member_and_the_count_is_per_member():
    ens = Network([3, 5, 4, 1], hidden="relu", init=["zeros", "he", "constant:0.3", "he"], seed=[1, 1, 1, 2])
    rep = symmetry(ens)
    assert rep.effective_widths.tolist() == [[1, 1], [5, 4], [1, 1], [5, 4]]
    for k in (0, 2):
        assert rep.member(k).layers[0].groups == [[0, 1, 2, 3, 4]]
        assert rep.member(k).layers[0].sentence() == (
            "layer 1: 1 of 5 units distinct: every hidden unit computes the same function"
        )
    assert rep.member(1).symmetric is False and rep.member(2).symmetric is True


@pytest.mark.parametrize("fn", ["symmetry", "saturation", "propagation"])
def test_member_is_refused_as_network_member_refuses(fn):
    from initlab.diagnose.propagation import propagation

    f = {"symmetry": lambda n, X: symmetry(n), "saturation": saturation, "propagation": propagation}[fn]
    X = np.ones((3, 4))
    ens = Network([3, 4, 1], init="he", seed=0, ensemble=2)
    with pytest.raises(InitlabError, match="member 2 does not exist: the ensemble has 2"):
        f(ens, X).member(2)
    with pytest.raises(InitlabError, match="member -1 does not exist"):
        f(ens, X).member(-1)
    with pytest.raises(InitlabError, match="member\\(\\) is for ensembles; this is a single network"):
        f(Network([3, 4, 1], init="he", seed=0), X).member(0)


def test_one_network_results_keep_their_plain_types():
    from initlab.diagnose.propagation import propagation

    net = Network([2, 4, 3, 1], hidden="relu", init="he", seed=0)
    X = np.random.default_rng(0).standard_normal((2, 9))
    sym, sat, prop = symmetry(net), saturation(net, X), propagation(net, X)
    assert sym.ensemble is sat.ensemble is prop.ensemble is None
    assert sym.effective_widths == [4, 3] and sym.symmetric is False
    assert type(sym.layers[0].effective_width) is int and type(sym.layers[0].spread) is float
    assert type(sat.layers[0].dead_fraction) is float and sat.layers[0].saturated_fraction is None
    assert type(prop.layers[0].z_q) is float and type(prop.forward_ratio) is float
    assert sat.per_layer("dead_fraction").shape == (3,) and np.isnan(sat.per_layer("dead_fraction")[-1])
    assert prop.layers[0].stats("z_q") == {"mean": prop.layers[0].z_q, "sem": 0.0, "log_spread": 0.0}
    assert sym.to_dict()["ensemble"] is None and sym.to_dict()["effective_width"] == [4, 3]


def test_propagation_zero_network_ratio_is_nan_not_an_error():
    from initlab.diagnose.propagation import propagation

    X = np.ones((2, 3))
    assert np.isnan(propagation(Network([2, 3, 1], hidden="relu", init="zeros"), X).forward_ratio)
    ens = propagation(Network([2, 3, 1], hidden="relu", init=["zeros", "he"], seed=[0, 0]), X)
    assert np.isnan(ens.forward_ratio[0]) and np.isfinite(ens.forward_ratio[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_propagation_stats_across_an_ensemble(seed):
    """He on ReLU keeps the second moment of the signal: the ensemble's layers vary around it
    with a standard error that is the spread of the members over sqrt(E)."""
    from initlab.diagnose.propagation import propagation

    X = np.random.default_rng(seed).standard_normal((20, 30))
    ens = Network([20, 64, 64, 1], hidden="relu", init="he", seed=seed, ensemble=24)
    rep = propagation(ens, X)
    for layer in rep.layers[:2]:
        st_ = layer.stats("z_q")
        assert st_["mean"] == pytest.approx(np.mean(layer.z_q)) and st_["log_spread"] > 0
        assert st_["sem"] == pytest.approx(np.std(layer.z_q, ddof=1) / np.sqrt(24))
    q1, q2 = rep.layers[0].stats("z_q"), rep.layers[1].stats("z_q")
    assert abs(q2["mean"] - q1["mean"]) < 4 * np.hypot(q1["sem"], q2["sem"])


def test_tracked_fields_keep_their_shapes_and_equal_each_member_tracked_alone(flower):
    """The tracker reads the ensemble's reports whole: (k, E, L-1) widths, (k, E) flags,
    (k, E, L) fractions, plain lists of Python numbers, and member k's rows are what the
    member tracks when trained alone."""
    X, Y = flower.X_train[:, :120], flower.Y_train[:, :120]
    kw = {"lr": 1.2, "iterations": 20, "track": ("symmetry", "saturation"), "track_every": 10, "engine": "reference"}
    ens = Network([2, 4, 3, 1], hidden=["relu", "tanh"], init=["zeros", "he", "random:3"], seed=[0, 0, 0])
    t = ens.fit(X, Y, **kw).tracked
    arr = t.arrays()
    assert arr["effective_width"].shape == (3, 3, 2) and arr["symmetric"].shape == (3, 3)
    assert arr["saturated_fraction"].shape == arr["dead_fraction"].shape == (3, 3, 3)
    assert type(t.effective_width[0]) is list and type(t.effective_width[0][0][0]) is int
    assert type(t.symmetric[0][0]) is bool
    for k in range(3):
        one = Network([2, 4, 3, 1], hidden=["relu", "tanh"], init=ens.init[k], seed=0).fit(X, Y, **kw).tracked
        assert [w[k] for w in t.effective_width] == one.effective_width
        assert [s[k] for s in t.symmetric] == one.symmetric
        for name in ("saturated_fraction", "dead_fraction"):
            np.testing.assert_allclose(arr[name][:, k], one.arrays()[name], rtol=1e-12, atol=0)
    assert np.isnan(arr["saturated_fraction"][:, :, 0]).all() and np.isnan(arr["dead_fraction"][:, :, 1:]).all()


@settings(max_examples=40, deadline=None)
@given(
    widths=st.lists(st.integers(1, 9), min_size=1, max_size=3),
    E=st.sampled_from([None, 1, 3]),
    copies=st.integers(0, 4),
    residual=st.booleans(),
    negzero=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_the_trackers_count_is_symmetrys_count(widths, E, copies, residual, negzero, seed):
    """`effective_widths` (the tracker's, for a whole ensemble at once) equals `symmetry`'s
    effective width, member by member, with units copied, -0.0 beside 0.0, and residual streams;
    `fractions_of` equals `saturation_of`'s per-layer fractions."""
    from initlab.diagnose.saturation import fractions_of, saturation_of
    from initlab.diagnose.symmetry import effective_widths

    rng = np.random.default_rng(seed)
    if residual:
        widths = [widths[0]] * (1 + len(widths))
    dims = [2, *widths, 1]
    net = Network(dims, hidden="relu", init="he", seed=seed, ensemble=E, residual=1 if residual else None)
    p = net.params
    if negzero:  # biases 0.0 and -0.0 alternating: one function, two byte patterns
        p["b1"][...] = 0.0
        p["b1"][..., ::2, :] = -0.0
    for _ in range(copies):  # copy a unit's incoming row onto another in a random layer
        l = int(rng.integers(1, len(dims) - 1))
        i, j = rng.integers(0, dims[l], 2)
        p[f"W{l}"][..., j, :] = p[f"W{l}"][..., i, :]
        if not (negzero and l == 1):
            p[f"b{l}"][..., j, :] = p[f"b{l}"][..., i, :]
        p[f"W{l + 1}"][..., :, j] = p[f"W{l + 1}"][..., :, i]
    got = effective_widths(net)
    want = symmetry(net).effective_widths
    np.testing.assert_array_equal(got, np.asarray(want))
    X = rng.standard_normal((2, 7))
    _, cache = net.forward(X)
    fr = fractions_of(net.activations, cache)
    rep = saturation_of(net.activations, cache)
    for name in ("saturated_fraction", "dead_fraction"):
        np.testing.assert_array_equal(fr[name], rep.per_layer(name))
