"""Networks: stable activations and losses, backprop against finite differences, training
results the course reports, ensembles equal to one-by-one training, clear errors."""

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
