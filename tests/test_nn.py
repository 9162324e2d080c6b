"""Networks: stable activations and losses, backprop against finite differences, training
results the course reports, ensembles equal to one-by-one training, clear errors."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import initlab
from initlab import data
from initlab.errors import InitlabError
from initlab.nn import ACTIVATIONS, HIDDEN, LOSSES, Network, gradient_check
from initlab.nn.losses import bce_cost

from .conftest import SEEDS


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations_stable_at_large_z(name):
    z = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]] * 2)
    act = ACTIVATIONS[name]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = act.fn(z)
        g = act.grad(z) if act.grad is not None else None
    assert np.isfinite(a).all() and (g is None or np.isfinite(g).all())


@pytest.mark.parametrize("name", HIDDEN)
def test_activation_grad_is_derivative(name):
    z = np.linspace(-3, 3, 61).reshape(1, -1) + 0.013  # avoid the ReLU kink at 0
    act = ACTIVATIONS[name]
    eps = 1e-6
    numeric = (act.fn(z + eps) - act.fn(z - eps)) / (2 * eps)
    np.testing.assert_allclose(act.grad(z), numeric, atol=1e-8)


def test_bce_never_nan_or_inf_when_saturated():
    Z = np.array([[-1000.0, 1000.0, 800.0, -800.0]])
    Y = np.array([[1.0, 0.0, 1.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        c = bce_cost(Z, ACTIVATIONS["sigmoid"].fn(Z), Y)
    assert np.isfinite(c) and c == pytest.approx((1000 + 1000) / 4)


def test_bce_equals_the_course_formula_where_finite():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((1, 50))
    A = 1 / (1 + np.exp(-Z))
    Y = (rng.random((1, 50)) > 0.5).astype(float)
    course = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    assert bce_cost(Z, A, Y) == pytest.approx(course, rel=1e-12)


# output activation and number of outputs for each loss
LOSS_SETUPS = {"binary_cross_entropy": ("sigmoid", 1), "cross_entropy": ("softmax", 3), "mse": ("identity", 2)}


def test_every_loss_has_a_gradient_check_setup():
    assert set(LOSS_SETUPS) == set(LOSSES)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("loss", list(LOSS_SETUPS))
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradient_check(hidden, loss, seed):
    """Backprop equals central finite differences: relative error below 1e-7 (float64)."""
    output, n_y = LOSS_SETUPS[loss]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((4, 7))
    if loss == "mse":
        Y = rng.standard_normal((n_y, 7))
    else:
        labels = rng.integers(0, max(n_y, 2), 7)
        Y = data.encode_labels(labels, max(n_y, 2)) if n_y > 1 else labels[None].astype(float)
    net = Network([4, 5, 3, n_y], hidden=hidden, output=output, loss=loss, init="xavier", bias="random:0.1", seed=seed)
    assert gradient_check(net, X, Y) < 1e-7


def test_gradient_check_catches_a_wrong_gradient(toy):
    """The check can fail: a backward pass with a wrong derivative is caught."""
    X, Y = toy
    net = Network([3, 4, 1], hidden="tanh", init="xavier", seed=0)
    good = gradient_check(net, X, Y)
    net.activations[0] = ACTIVATIONS["sigmoid"].__class__("tanh", np.tanh, ACTIVATIONS["sigmoid"].grad, "wrong")
    assert good < 1e-7 < gradient_check(net, X, Y)


# ---------------------------------------------------------------------------- training
def test_logistic_regression_from_zeros_on_blobs():
    ds = data.load("blobs")
    net = Network([2, 1], init="zeros")
    net.fit(ds.X_train, ds.Y_train, lr=0.5, iterations=500)
    assert net.accuracy(ds.X_train, ds.Y_train) >= 0.95


def test_flower_tanh_4_units_and_logistic_regression():
    ds = data.load("flower")
    net = Network([2, 4, 1], hidden="tanh", init="random:0.01", seed=3)
    net.fit(ds.X_train, ds.Y_train, lr=1.2, iterations=10000)
    assert net.accuracy(ds.X_train, ds.Y_train) >= 0.88
    logreg = Network([2, 1], init="zeros")
    logreg.fit(ds.X_train, ds.Y_train, lr=1.2, iterations=2000)
    assert logreg.accuracy(ds.X_train, ds.Y_train) < 0.60


def test_softmax_learns_digits():
    ds = data.load("digits")
    net = Network([64, 32, 10], hidden="relu", output="softmax", init="he", seed=0)
    h = net.fit(ds.X_train, ds.Y_train, lr=0.5, iterations=300)
    assert h.costs[-1] < h.costs[0] / 4
    assert net.accuracy(ds.X_test, ds.Y_test) > 0.85


def test_history_records_and_prints(capsys, toy):
    X, Y = toy
    net = Network([3, 4, 1], seed=0)
    seen = []
    h = net.fit(X, Y, lr=0.5, iterations=30, record_every=10, print_every=10, callback=lambda i, c: seen.append(i))
    assert list(h.iterations) == [0, 10, 20, 30] == seen
    assert h.final_cost == pytest.approx(net.cost(X, Y))
    assert "Cost after iteration 20:" in capsys.readouterr().out
    d = h.to_dict()
    assert d["costs"][0][0] == 0 and d["final_cost"] == pytest.approx(float(h.costs[-1]))


# ---------------------------------------------------------------------------- ensembles
@pytest.mark.parametrize("hidden", ["tanh", "relu"])
def test_ensemble_of_8_equals_8_one_by_one(hidden):
    ds = data.load("circles")
    ens = Network([2, 10, 5, 1], hidden=hidden, init="he", seed=11, ensemble=8)
    singles = [ens.member(k) for k in range(8)]
    h = ens.fit(ds.X_train, ds.Y_train, lr=0.05, iterations=300)
    assert h.costs.shape[1] == 8
    for k, net in enumerate(singles):
        hk = net.fit(ds.X_train, ds.Y_train, lr=0.05, iterations=300)
        for key in net.params:
            assert np.abs(ens.params[key][k] - net.params[key]).max() < 1e-10
        assert np.abs(h.costs[:, k] - hk.costs).max() < 1e-10
    assert ens.predict(ds.X_test).shape == (8, 1, ds.X_test.shape[1])
    assert ens.accuracy(ds.X_test, ds.Y_test).shape == (8,)


def test_ensemble_members_as_named_networks():
    """init and seed as lists: member k is exactly Network(init=init[k], seed=seed[k])."""
    inits, seeds = ["zeros", "random:10", "he"], [3, 3, 4]
    ens = Network([2, 6, 1], hidden="relu", init=inits, seed=seeds)
    assert ens.ensemble == 3
    for k in range(3):
        alone = Network([2, 6, 1], hidden="relu", init=inits[k], seed=seeds[k])
        assert all(np.array_equal(alone.params[key], ens.params[key][k]) for key in alone.params)


def test_ensemble_lr_per_member(toy):
    X, Y = toy
    ens = Network([3, 4, 1], init="xavier", seed=[0, 0])
    ens.fit(X, Y, lr=[0.1, 1.0], iterations=20)
    a = Network([3, 4, 1], init="xavier", seed=0)
    a.fit(X, Y, lr=1.0, iterations=20)
    assert np.abs(ens.params["W1"][1] - a.params["W1"]).max() < 1e-12
    assert np.abs(ens.params["W1"][0] - a.params["W1"]).max() > 1e-6


@given(perm_seed=st.integers(0, 10**6), seed=st.integers(0, 10**6))
def test_permuting_hidden_units_changes_no_output(perm_seed, seed):
    """A law of the architecture: relabelling hidden units permutes nothing visible."""
    net = Network([3, 5, 1], hidden="tanh", init="xavier", bias="random:0.5", seed=seed)
    X = np.random.default_rng(seed + 1).standard_normal((3, 6))
    perm = np.random.default_rng(perm_seed).permutation(5)
    p = {
        "W1": net.params["W1"][perm],
        "b1": net.params["b1"][perm],
        "W2": net.params["W2"][:, perm],
        "b2": net.params["b2"],
    }
    other = Network.from_params(p, hidden="tanh")
    np.testing.assert_allclose(net.forward(X)[0], other.forward(X)[0], rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------ errors
def test_nan_or_inf_in_X_is_named(toy):
    X, Y = toy
    net = Network([3, 4, 1], seed=0)
    X = X.copy()
    X[1, 5] = np.nan
    with pytest.raises(InitlabError, match=r"non-finite.*row 1, example 5"):
        net.fit(X, Y, lr=0.1, iterations=1)
    X[1, 5] = np.inf
    with pytest.raises(InitlabError, match="non-finite"):
        net.predict(X)


def test_examples_mismatch_names_both_shapes(toy):
    X, Y = toy
    with pytest.raises(InitlabError) as e:
        Network([3, 4, 1], seed=0).fit(X, Y[:, :15], lr=0.1, iterations=1)
    assert "(3, 20)" in str(e.value) and "(1, 15)" in str(e.value)


def test_wrong_feature_count_says_expected(toy):
    X, Y = toy
    with pytest.raises(InitlabError, match=r"expected \(2, m\)"):
        Network([2, 4, 1], seed=0).fit(X, Y, lr=0.1, iterations=1)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"layer_dims": [2, 0, 1]}, "layer 1 has width 0"),
        ({"layer_dims": [2, 3, 1], "init": "hee"}, "did you mean he"),
        ({"layer_dims": [2, 3, 1], "init": "random:-2"}, "> 0"),
        ({"layer_dims": [2, 3, 1], "hidden": "relux"}, "did you mean relu"),
        ({"layer_dims": [2, 3, 1], "output": "softmax"}, "at least 2 units"),
        ({"layer_dims": [2, 3, 1], "loss": "mse", "output": "softmax"}, "does not go with"),
        ({"layer_dims": [2, 3, 1], "hidden": ["tanh", "relu"]}, "2 hidden activations for 1"),
    ],
)
def test_bad_network_arguments(kwargs, words):
    dims = kwargs.pop("layer_dims")
    with pytest.raises(InitlabError, match=words):
        Network(dims, **kwargs)


def test_params_shape_mismatch_named():
    p = initlab.initialize_parameters(2, 3, 1, seed=0)
    p["W2"] = np.zeros((1, 4))
    with pytest.raises(InitlabError, match=r"W2 has shape \(1, 4\).*need \(1, 3\)"):
        Network([2, 3, 1], params=p)


def test_bad_training_arguments(toy):
    X, Y = toy
    net = Network([3, 4, 1], seed=0)
    with pytest.raises(InitlabError, match="lr must be"):
        net.fit(X, Y, lr=-1, iterations=1)
    with pytest.raises(InitlabError, match="iterations"):
        net.fit(X, Y, lr=0.1, iterations=-5)
    with pytest.raises(InitlabError, match=r"labels in \[0, 1\]"):
        net.fit(X, Y * 3, lr=0.1, iterations=1)


# ------------------------------------------------------------- fit against its definition
def _case_data(kind):
    rng = np.random.default_rng(5)
    if kind == "circles":
        ds = data.load("circles")
        return ds.X_train[:, :120], ds.Y_train[:, :120]
    if kind == "flower":
        ds = data.load("flower")
        return ds.X_train[:, :150], ds.Y_train[:, :150]
    if kind == "softmax":
        return rng.standard_normal((5, 40)), np.eye(3)[:, rng.integers(0, 3, 40)]
    if kind == "mse":
        return rng.standard_normal((5, 40)), rng.standard_normal((3, 40))
    return rng.standard_normal((30, 25)), (rng.random((1, 25)) < 0.5).astype(float)  # "wide"


def _shuffled(net, seed):
    """``net`` with its hidden units out of canonical order (fit must train in that order and
    give them back in the user's)."""
    r = np.random.default_rng(seed)
    p = net.params
    for l in range(1, len(net.layer_dims) - 1):
        perm = r.permutation(net.layer_dims[l])
        p[f"W{l}"], p[f"b{l}"] = p[f"W{l}"][..., perm, :].copy(), p[f"b{l}"][..., perm, :].copy()
        p[f"W{l + 1}"] = p[f"W{l + 1}"][..., perm].copy()
    return net


ALL = ("symmetry", "saturation", "weights")
C4 = dict(dims=[2, 10, 5, 1], data="circles")
FL = dict(dims=[2, 4, 1], data="flower", hidden="tanh", init="he")  # kernels other tests compile too
# (network, fit arguments): engines, 1 network / E = 1, 3, 40, tracked or not, the event rules,
# 0 and 1 iterations, units out of canonical order, lsuv, one learning rate per member
DEFINITION_CASES = {
    "flower-auto-prints": ({**FL, "init": "random:0.01"}, dict(lr=1.2, iterations=300, print_every=100)),
    "flower-reference": ({**FL, "init": "random:0.01"}, dict(lr=1.2, iterations=300, engine="reference")),
    "flower-fast-tracked": (
        FL,
        dict(lr=1.2, iterations=120, print_every=50, record_every=7, track=ALL, track_every=11, engine="fast"),
    ),
    "E3-fast": ({**C4, "ensemble": 3}, dict(lr=0.05, iterations=200, record_every=7, print_every=13, engine="fast")),
    "E3-fast-tracked": (
        {**C4, "ensemble": 3},
        dict(lr=0.05, iterations=200, record_every=7, print_every=13, track=ALL, track_every=5, engine="fast"),
    ),
    "E3-reference-tracked": (
        {**C4, "ensemble": 3},
        dict(lr=0.05, iterations=60, record_every=7, print_every=13, track=ALL, track_every=5, engine="reference"),
    ),
    "E40-auto-every-step": ({**C4, "ensemble": 40, "hidden": "tanh"}, dict(lr=0.05, iterations=150, record_every=1)),
    "E40-fast-tracked": (
        {**C4, "ensemble": 40, "hidden": "tanh"},
        dict(
            lr=0.05, iterations=151, record_every=2, print_every=50, track=("symmetry",), track_every=3, engine="fast"
        ),
    ),
    "E40-reference": (
        {**C4, "ensemble": 40},
        dict(lr=0.05, iterations=20, record_every=1, print_every=9, engine="reference"),
    ),
    "E1-fast": ({**C4, "ensemble": 1}, dict(lr=0.05, iterations=40, record_every=3, print_every=10, engine="fast")),
    "0-fast": (FL, dict(lr=0.5, iterations=0, print_every=1, engine="fast")),
    "0-fast-tracked-E3": ({**FL, "ensemble": 3}, dict(lr=0.5, iterations=0, track=ALL, engine="fast")),
    "0-reference": (FL, dict(lr=0.5, iterations=0, record_every=3, engine="reference")),
    "1-fast": (FL, dict(lr=0.5, iterations=1, record_every=1, print_every=1, engine="fast")),
    "1-fast-tracked": (FL, dict(lr=0.5, iterations=1, print_every=1, track=ALL, engine="fast")),
    "1-reference-E3": ({**FL, "ensemble": 3}, dict(lr=0.5, iterations=1, print_every=1, engine="reference")),
    "every-beyond-the-end": (
        FL,
        dict(lr=0.5, iterations=10, record_every=50, print_every=40, track=ALL, track_every=20, engine="fast"),
    ),
    "shuffled-fast-tracked": (
        {**C4, "shuffle": 4, "hidden": "tanh"},
        dict(lr=0.05, iterations=60, record_every=4, track=ALL, track_every=6, engine="fast"),
    ),
    "shuffled-E3-reference-tracked": (
        {**C4, "shuffle": 4, "ensemble": 3},
        dict(lr=0.05, iterations=30, record_every=4, track=ALL, track_every=6, engine="reference"),
    ),
    "lsuv": ({**C4, "init": "lsuv", "hidden": "tanh"}, dict(lr=0.05, iterations=50)),
    "lsuv-mixed-E3-reference-tracked": (
        {**C4, "init": ["lsuv", "he", "lsuv"], "seed": [0, 1, 2]},
        dict(lr=0.05, iterations=30, track=("symmetry",), track_every=7, engine="reference"),
    ),
    "lr-per-member-fast": (
        {**C4, "init": ["zeros", "random:0.5", "he"], "seed": [0, 1, 2]},
        dict(lr=[0.01, 0.02, 0.05], iterations=90, record_every=9, engine="fast"),
    ),
    "lr-per-member-reference-tracked": (
        {**C4, "init": ["zeros", "random:0.5", "he"], "seed": [0, 1, 2]},
        dict(
            lr=[0.01, 0.02, 0.05],
            iterations=40,
            record_every=9,
            track=("saturation",),
            track_every=10,
            engine="reference",
        ),
    ),
    "softmax-auto": (
        {"dims": [5, 6, 4, 3], "data": "softmax", "output": "softmax", "hidden": "tanh", "seed": [0, 1, 2]},
        dict(lr=0.1, iterations=30),
    ),
    "mse-fast-tracked": (
        {"dims": [5, 6, 4, 3], "data": "mse", "output": "identity", "hidden": "tanh"},
        dict(lr=0.05, iterations=25, record_every=4, track=("saturation",), engine="fast"),
    ),
    "wide-auto-is-reference-tracked": (
        {"dims": [30, 40, 20, 1], "data": "wide", "ensemble": 3},
        dict(lr=0.05, iterations=20, record_every=3, track=ALL, track_every=4),
    ),
}


def _definition_network(spec):
    spec = dict(spec)
    dims, kind, shuffle = spec.pop("dims"), spec.pop("data"), spec.pop("shuffle", None)
    spec = {"hidden": "relu", "init": "he", "bias": "random:0.3", "seed": 1, **spec}
    net = Network(dims, **spec)
    return (net if shuffle is None else _shuffled(net, shuffle)), *_case_data(kind)


def fit_by_definition(
    net, X, Y, *, lr, iterations, record_every=None, print_every=None, track=(), track_every=1, engine="auto"
):
    """What ``fit`` promises, one iteration at a time: for i in 0 .. iterations - 1 the tracker
    measures (every ``track_every``), the cost at the parameters before step i is recorded and
    called back (every ``record_every``) and printed (every ``print_every``), then the step;
    after the last step the cost is recorded and called back, and tracked. The engine's cost is
    the loss's on the NumPy path and the kernel's sum on the compiled one (`Engine.peek`); the
    hidden units train in canonical order. Returns (iterations, costs, the log of callbacks
    and prints, what was tracked)."""
    from initlab.diagnose.tracking import Tracker
    from initlab.nn import fast, network, units

    X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
    alpha = np.array(lr, dtype=float).reshape(-1, 1, 1) if isinstance(lr, list) else lr
    every = record_every or max(1, iterations // 200)
    track = (track,) if isinstance(track, str) else tuple(track)
    tracker = Tracker(track, net.activations, len(net.layer_dims) - 2) if track else None
    compiled = engine == "fast" or (engine == "auto" and fast.pays(net))  # 0 steps too: one cost
    net._apply_lsuv(X)
    perms = units.canonical_order(net.params)
    units.permute_units(net.params, perms)
    params, acts = net.params, net.activations

    def measure(i):  # the tracker sees the units in the user's order
        AL, cache = network.forward(params, X, acts)
        user = {k: v.copy() for k, v in params.items()}
        units.permute_units(user, perms, inverse=True)
        back = []
        for l, (A_prev, Z) in enumerate(cache, start=1):
            if l > 1:
                A_prev = units.permute_cache_rows(A_prev, perms[l - 2], inverse=True)
            if l < len(cache):
                Z = units.permute_cache_rows(Z, perms[l - 1], inverse=True)
            back.append((A_prev, Z))
        tracker.record(i, user, back)

    def cost():
        if compiled:
            c = eng.peek()
            return c if net.ensemble else c[0]
        AL, cache = network.forward(params, X, acts)
        return net.loss.cost(cache[-1][1], AL, Y)

    eng = fast.Engine(net, X, Y, alpha) if compiled else None
    its, costs, log = [], [], []
    for i in range(iterations):
        if tracker is not None and i % track_every == 0:
            if eng is not None:
                eng.store()
            measure(i)
        if i % every == 0 or (print_every and i % print_every == 0):
            c = cost()
            if i % every == 0:
                its.append(i)
                costs.append(c)
                log.append(("callback", i, type(c).__name__, np.asarray(c).tobytes()))
            if print_every and i % print_every == 0:
                log.extend(("print", line) for line in f"Cost after iteration {i}: {c}".splitlines())
        if eng is not None:
            eng.run(1)
        else:
            AL, cache = network.forward(params, X, acts)
            network.update(params, network.backward(params, cache, AL, Y, acts, net.loss), alpha)
    if eng is not None:
        eng.store()
    if tracker is not None:
        measure(iterations)
    c = cost()
    its.append(iterations)
    costs.append(c)
    log.append(("callback", iterations, type(c).__name__, np.asarray(c).tobytes()))
    units.permute_units(params, perms, inverse=True)
    return its, np.array(costs), log, None if tracker is None else tracker.result.to_dict()


@pytest.mark.parametrize("name", list(DEFINITION_CASES))
def test_fit_gives_the_bits_of_its_definition(name, capsys):
    """`fit` (events in batches, one engine interface) against the loop above, bit for bit:
    costs, parameters, callbacks and prints in their order, everything tracked."""
    from initlab.nn import fast

    spec, kw = DEFINITION_CASES[name]
    if not fast.AVAILABLE and kw.get("engine") == "fast":
        pytest.skip("needs numba")
    (net, X, Y), (twin, _, _) = _definition_network(spec), _definition_network(spec)
    want_its, want_costs, want_log, want_tracked = fit_by_definition(twin, X, Y, **kw)
    log = []

    def callback(i, c):
        log.extend(("print", line) for line in capsys.readouterr().out.splitlines())
        log.append(("callback", i, type(c).__name__, np.asarray(c).tobytes()))

    h = net.fit(X, Y, callback=callback, **kw)
    log.extend(("print", line) for line in capsys.readouterr().out.splitlines())
    assert h.iterations.tolist() == want_its
    assert h.costs.tobytes() == want_costs.tobytes()
    assert log == want_log
    tracked = None if h.tracked is None else h.tracked.to_dict()
    assert json.dumps(tracked, sort_keys=True) == json.dumps(want_tracked, sort_keys=True)  # NaN equals NaN
    for key, value in net.params.items():
        assert value.tobytes() == twin.params[key].tobytes(), key


# ------------------------------------------------------------------------ fit's schedule
def test_schedule_lists_each_event_once_with_what_it_does():
    from initlab.nn.network import Event, Schedule

    s = Schedule.build(10, 3, print_every=4, track_every=5)
    assert [(e.i, e.records, e.tracks, e.prints) for e in s.events] == [
        (0, True, True, True),
        (3, True, False, False),
        (4, False, False, True),
        (5, False, True, False),
        (6, True, False, False),
        (8, False, False, True),
        (9, True, False, False),
    ]
    assert s.final == Event(10, records=True, tracks=True, prints=False)
    calls = list(s.calls(per_call=2))  # a tracked event starts a call; at most 2 events a call
    assert [(c.start, c.steps, [e.i for e in c.events], c.offsets) for c in calls] == [
        (0, 4, [0, 3], [0, 3]),
        (4, 1, [4], [0]),
        (5, 3, [5, 6], [1]),  # iteration 5 is only tracked: no cost taken there
        (8, 2, [8, 9], [0, 1]),
        (10, 0, [10], [0]),
    ]
    untracked = Schedule.build(10, 3, print_every=4)
    assert [(c.start, c.steps) for c in untracked.calls(per_call=64)] == [(0, 10), (10, 0)]
    assert not untracked.final.tracks
    nothing = Schedule.build(0, 1, print_every=1, track_every=1)
    assert nothing.events == () and [(c.start, c.steps) for c in nothing.calls(5)] == [(0, 0)]


@given(
    iterations=st.integers(0, 300),
    record_every=st.integers(1, 40),
    print_every=st.none() | st.integers(1, 40),
    track_every=st.none() | st.integers(1, 40),
    per_call=st.integers(1, 70),
)
def test_schedule_calls_cover_the_run_once(iterations, record_every, print_every, track_every, per_call):
    """The calls run every iteration once, in order; each event is in one call, with what its
    rules say it does; a call has at most ``per_call`` events and only its first may track."""
    from initlab.nn.network import Schedule

    s = Schedule.build(iterations, record_every, print_every, track_every)
    calls = list(s.calls(per_call))
    assert [c.start for c in calls] == [0, *np.cumsum([c.steps for c in calls])[:-1].tolist()]
    assert (calls[-1].start, calls[-1].steps, calls[-1].events) == (iterations, 0, (s.final,))
    events = [e for c in calls for e in c.events]
    assert [e.i for e in events] == sorted(
        {i for i in range(iterations) for every in (record_every, print_every, track_every) if every and i % every == 0}
    ) + [iterations]
    for e in events[:-1]:
        assert e.records == (e.i % record_every == 0)
        assert e.prints == (print_every is not None and e.i % print_every == 0)
        assert e.tracks == (track_every is not None and e.i % track_every == 0)
    for c in calls:
        assert c.events[0].i == c.start and len(c.events) <= per_call
        assert not any(e.tracks for e in c.events[1:])
        assert all(0 <= k < max(c.steps, 1) for k in c.offsets)
