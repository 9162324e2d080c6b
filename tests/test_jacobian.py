"""The input-output Jacobian (`initlab.jacobian_spectrum`) and its free-probability prediction
(`initlab.theory.jacobian_moments`)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import initlab
from initlab import InitlabError, Network, theory
from initlab.diagnose.jacobian import jacobian
from initlab.nn import HIDDEN

from .conftest import SEEDS_LONG

OUTPUTS = [("sigmoid", 1), ("softmax", 3), ("identity", 2)]


@settings(max_examples=25, deadline=None)
@given(
    hidden=st.sampled_from([h for h in HIDDEN if h not in ("relu", "leaky_relu")]),
    widths=st.lists(st.integers(1, 7), min_size=1, max_size=4),
    out=st.sampled_from(OUTPUTS),
    readout=st.booleans(),
    E=st.sampled_from([None, 2]),
    k=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_the_jacobian_is_the_derivative_of_the_forward_pass(hidden, widths, out, readout, E, k, seed):
    """J(x) against central differences of a[L-1] (or a[L]) in every input direction."""
    output, n_y = out
    rng = np.random.default_rng(seed)
    n_x = int(rng.integers(1, 5))
    net = Network([n_x, *widths, n_y], hidden=hidden, output=output, init="xavier", seed=seed, ensemble=E)
    x = rng.standard_normal((n_x, k))
    J = jacobian(net, x, include_readout=readout)
    L = len(net.layer_dims) - 1
    eps = 1e-6

    def out_at(X):
        AL, cache = net.forward(X)
        return AL if readout else net.activations[L - 2].fn(cache[L - 2][1])

    for i in range(n_x):
        d = np.zeros((n_x, 1))
        d[i] = eps
        numeric = (out_at(x + d) - out_at(x - d)) / (2 * eps)  # ([E,] n_out, k)
        np.testing.assert_allclose(J[..., :, :, i], np.swapaxes(numeric, -1, -2), atol=1e-7, rtol=1e-5)


CASES = [  # activation, init, weights, sigma_w2
    ("identity", "xavier", "gaussian", 1.0),
    ("relu", "he", "gaussian", 2.0),
    ("relu", "orthogonal:relu", "orthogonal", 2.0),
    ("tanh", "orthogonal", "orthogonal", 1.0),
    ("tanh", "xavier", "gaussian", 1.0),
]


@pytest.mark.parametrize("seed", SEEDS_LONG)
@pytest.mark.parametrize("activation, init, weights, sigma_w2", CASES)
def test_measured_spectrum_matches_free_probability(activation, init, weights, sigma_w2, seed):
    """Over an ensemble of width-128, depth-6 networks: the mean eigenvalue and the normalized
    variance within 5 standard errors plus 6% (finite width: measured +2% to +4% at width 256,
    depth 8 for Gaussian ReLU; the prediction is the infinite-width limit)."""
    n, depth = 128, 6
    net = Network([n] * (depth + 1) + [1], hidden=activation, init=init, seed=seed, ensemble=6)
    x = np.random.default_rng(seed).standard_normal((n, 4)) / np.sqrt(sigma_w2)  # q1 = 1
    sp = initlab.jacobian_spectrum(net, x)
    pred = theory.jacobian_moments(activation, sigma_w2, 0.0, depth, q1=1.0, weights=weights)
    for measured, predicted in ((sp.normalized_variance(), pred.normalized_variance), (sp.mean(), pred.mean)):
        se = measured.std(ddof=1) / np.sqrt(measured.size)
        assert abs(measured.mean() - predicted) <= 5 * se + 0.06 * abs(predicted) + 1e-9, (measured.mean(), predicted)


def test_the_papers_claims_in_closed_form():
    """Linear orthogonal: an exact isometry; ReLU cannot reach one (orthogonal: variance = depth,
    Gaussian: twice); orthogonal tanh near q* -> 0 approaches one (sigma_w2 -> 1, variance -> 0)."""
    L = 10
    assert theory.jacobian_moments("identity", 1.0, 0.0, L, weights="orthogonal").normalized_variance == pytest.approx(
        0.0, abs=1e-9
    )
    assert theory.jacobian_moments("identity", 1.0, 0.0, L, weights="gaussian").normalized_variance == pytest.approx(L)
    relu_o = theory.jacobian_moments("relu", 2.0, 0.0, L, q1=1.0, weights="orthogonal")
    relu_g = theory.jacobian_moments("relu", 2.0, 0.0, L, q1=1.0, weights="gaussian")
    assert relu_o.normalized_variance == pytest.approx(L, rel=1e-6) and relu_o.mean == pytest.approx(1.0, rel=1e-6)
    assert relu_g.normalized_variance == pytest.approx(2 * L, rel=1e-6)
    near = [theory.jacobian_moments("tanh", 1.0 + d, 1e-4, L, q1=None, weights="orthogonal") for d in (0.1, 0.01)]
    assert near[1].normalized_variance < near[0].normalized_variance < 0.5 * L


def test_an_isometry_measures_as_one():
    net = Network([16] * 5 + [1], hidden="identity", init="orthogonal", seed=0)
    sp = initlab.jacobian_spectrum(net, np.ones((16, 2)))
    np.testing.assert_allclose(sp.singular_values, 1.0, atol=1e-12)
    assert sp.normalized_variance().max() < 1e-20 and sp.to_dict()["mean_eigenvalue"][0] == pytest.approx(1.0)


def test_errors_name_the_problem():
    with pytest.raises(InitlabError, match="residual"):
        initlab.jacobian_spectrum(Network([2, 4, 4, 1], residual=1), np.ones((2, 1)))
    with pytest.raises(InitlabError, match="no hidden layer"):
        initlab.jacobian_spectrum(Network([2, 1]), np.ones((2, 1)))
    with pytest.raises(InitlabError, match="features"):
        initlab.jacobian_spectrum(Network([2, 3, 1]), np.ones((5, 1)))
    with pytest.raises(InitlabError, match="weights must be"):
        theory.jacobian_moments("relu", 2.0, 0.0, 3, weights="uniform")


def test_reproduce_pennington_2017_small():
    """The command's rows at a tiny size: the spectrum beside the prediction (linear orthogonal an
    isometry, the rest within 5 SE + 15% at width 32), and the learning race's two runs."""
    from initlab.experiments.reproduce import PenningtonConfig, reproduce

    c = dict(depths=(2, 4), width=32, networks=3, inputs=2, learn_depth=6, learn_width=8, examples=64, steps=20)
    rep = reproduce("pennington-2017", **c)
    spectrum = [r for r in rep.rows if r["part"] == "spectrum"]
    assert len(spectrum) == 3 * 2 * 2
    for r in spectrum:
        pred, got, se = r["predicted_normalized_variance"], r["normalized_variance"], r["normalized_variance_se"]
        if r["activation"] == "identity" and r["weights"] == "orthogonal":
            assert got < 1e-20 and abs(pred) < 1e-9
        else:
            assert abs(got - pred) <= 5 * se + 0.15 * pred, r
    learning = [r for r in rep.rows if r["part"] == "learning"]
    assert [r["weights"] for r in learning] == ["orthogonal", "gaussian"]
    assert all(np.isfinite(r["final_cost"]) for r in learning)
    text = "\n".join(rep.lines())
    assert "the paper's claims" in text and "orthogonal, depth 6" in text
    assert PenningtonConfig().depths[-1] == 128
