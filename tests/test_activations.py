"""The activation table walked row by row: what every activation must have, checked for each.

Adding an activation is one row in `initlab.nn.activations.ACTIVATIONS`; these tests then ask
of the new row what they ask of the others (they read the table, never a list of names).
"""

import numpy as np
import pytest

from initlab import theory
from initlab.errors import InitlabError
from initlab.initializers import calculate_gain
from initlab.nn import HIDDEN, Network, codegen, fast
from initlab.nn.activations import ACTIVATIONS
from initlab.nn.network import gradient_check

ROWS = sorted(ACTIVATIONS)


def test_hidden_is_every_row_with_a_derivative():
    assert set(HIDDEN) == {n for n, a in ACTIVATIONS.items() if a.grad is not None}
    assert "softmax" in ACTIVATIONS and "softmax" not in HIDDEN


@pytest.mark.parametrize("name", ROWS)
def test_every_row_is_complete(name):
    act = ACTIVATIONS[name]
    assert act.name == name and act.formula and repr(act).startswith("Activation(")
    z = np.linspace(-5, 5, 41).reshape(1, -1)
    a = act.fn(np.vstack([z, -z]))
    assert a.shape == (2, 41) and np.isfinite(a).all()
    if act.grad is not None:  # elementwise: g' is the derivative of g (central differences)
        h = 1e-6
        zs = z[np.abs(z) > 1e-3]  # away from ReLU's kink
        numeric = (act.fn(zs + h) - act.fn(zs - h)) / (2 * h)
        assert np.allclose(act.grad(zs), numeric, atol=1e-6), name
        assert act.gain is not None and act.gain > 0, f"{name} has no gain (PyTorch's calculate_gain)"


@pytest.mark.parametrize("name", [n for n in ROWS if ACTIVATIONS[n].kernel is not None and n != "softmax"])
def test_the_kernel_row_computes_the_numpy_function(name):
    """The statements the compiled kernel is generated from, against ``fn``."""
    z = np.concatenate([np.linspace(-40, 40, 8001), np.logspace(-300, 2, 500), -np.logspace(-300, 2, 500), [0.0, -0.0]])
    assert np.max(np.abs(codegen.elementwise(name)(z) - ACTIVATIONS[name].fn(z))) <= 4.5e-16


@pytest.mark.parametrize("name", HIDDEN)
def test_every_hidden_activation_passes_the_gradient_check(name):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 12))
    Y = (rng.random((1, 12)) < 0.5).astype(float)
    net = Network([3, 4, 3, 1], hidden=name, init="xavier", bias="random:0.1", seed=5)
    assert gradient_check(net, X, Y) < 2e-7, name


@pytest.mark.parametrize("name", HIDDEN)
def test_every_hidden_activation_trains_on_every_engine_to_the_same_numbers(name):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((2, 30))
    Y = (X[:1] * X[1:] > 0).astype(float)
    engines = ["reference"] + (["fast"] if fast.AVAILABLE and ACTIVATIONS[name].kernel else [])
    nets = {}
    for engine in engines:
        net = Network([2, 10, 5, 1], hidden=name, init="he", seed=[0, 1, 2])
        net.fit(X, Y, lr=0.05, iterations=50, engine=engine)
        nets[engine] = net
    ref = nets["reference"]
    for net in nets.values():
        for k in ref.params:
            assert np.abs(net.params[k] - ref.params[k]).max() < 1e-12, (name, k)


@pytest.mark.parametrize("name", HIDDEN)
def test_every_hidden_activation_has_a_theory(name):
    """The variance map and a critical sigma_w^2 (where chi_1 = 1 has a root in the range)."""
    q = theory.variance_map(name, np.array([0.5, 1.0]), 2.0, 0.0)
    assert np.isfinite(q).all() and (q > 0).all()
    try:
        crit = float(theory.critical_sigma_w2(name))
    except InitlabError as e:  # sigmoid: chi_1 < 1 for every sigma_w^2 (no edge of chaos at q* = 0)
        assert "no critical sigma_w2" in str(e)
    else:
        assert 0 < crit < 100
        assert float(theory.chi1(name, crit, 0.0)) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", HIDDEN)
def test_every_hidden_activation_is_offered_by_the_cli_and_has_its_gain(name, capsys):
    from initlab import cli

    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert name in out, f"train --help does not offer {name}"
    assert calculate_gain(name) == ACTIVATIONS[name].gain
