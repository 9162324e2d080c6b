"""The residual stream's second moment by block at initialization (`initlab.theory.residual_variances`):
its closed forms, and the prediction against measured ensembles at several seeds."""

import numpy as np
import pytest

from initlab import InitlabError, theory
from initlab.nn.network import Network
from initlab.nn.residual import Layout

from .conftest import SEEDS

GRID = [
    (act, init, m, gate, norm)
    for act, init in (("relu", "he"), ("tanh", "xavier"))
    for m in (1, 2, 3)
    for gate in (None, True, 0.5)
    for norm in (None, "layernorm")
]
#: A few corners of the grid for `make test`; the whole grid runs in `make test-all`.
QUICK = [
    ("relu", "he", 1, None, None),
    ("relu", "he", 2, 0.5, "layernorm"),
    ("tanh", "xavier", 3, True, None),
    ("relu", "t_fixup", 2, None, None),  # recipes: each layer's scale by its role
    ("tanh", "gpt2", 2, None, "layernorm"),
]


def _dims(n_x, width, blocks, m, n_y=1):
    return [n_x] + [width] * (1 + blocks * m) + [n_y]


def test_relu_he_doubles_per_block_and_a_gate_makes_it_one_plus_g_squared():
    X = np.random.default_rng(0).standard_normal((5, 7))
    q0 = 2.0 * np.mean(X**2)  # He on the input projection: sigma_w2 = 2
    for m in (1, 2, 3):
        dims = _dims(5, 8, 4, m)
        q = theory.residual_network_variances("relu", "he", dims, X, residual=m)
        np.testing.assert_allclose(q, q0 * 2.0 ** np.arange(5), rtol=1e-12)
        q = theory.residual_network_variances("relu", "he", dims, X, residual=m, gate=0.5)
        np.testing.assert_allclose(q, q0 * 1.25 ** np.arange(5), rtol=1e-12)
        q = theory.residual_network_variances("relu", "he", dims, X, residual=m, gate=0.0)  # ReZero at init
        np.testing.assert_allclose(q, q0, rtol=1e-12)


def test_layernorm_adds_the_same_branch_variance_every_block():
    """The norm reads every stream at unit variance: each block adds gate^2 * F^m(gain^2)."""
    X = np.random.default_rng(1).standard_normal((3, 4)) * 5
    q = theory.residual_network_variances("relu", "he", _dims(3, 8, 6, 2), X, residual=2, norm="layernorm", gate=0.5)
    step = 0.25 * 1.0  # ReLU/He: F(q) = q, so F^2(1) = 1
    np.testing.assert_allclose(np.diff(q), step, rtol=1e-4)  # eps = 1e-5 against q_S of 75 and more
    qt = theory.residual_variances("tanh", _dims(3, 8, 3, 1), X, residual=1, sigma_w2=1.0, norm="layernorm")
    np.testing.assert_allclose(np.diff(qt), theory.variance_map("tanh", 1.0, 1.0, 0.0), rtol=1e-4)


def test_per_layer_scales_and_biases_enter_where_they_sit():
    """identity activation: q_S[b] = q_S[b-1] + g^2 (prod of the branch's sigma_w2) q_S[b-1] + biases."""
    X = np.ones((2, 3))
    sw = [1.0, 0.5, 3.0, 2.0, 0.0, 1.0]  # input, block 1 (0.5, 3), block 2 (2, 0), readout
    q = theory.residual_variances("identity", [2, 4, 4, 4, 4, 4, 1], X, residual=2, sigma_w2=sw, sigma_b2=0.0)
    np.testing.assert_allclose(q, [1.0, 2.5, 2.5])
    sb = [0.1, 0.0, 0.2, 0.0, 0.0, 0.0]
    q = theory.residual_variances("identity", [2, 4, 4, 4, 4, 4, 1], X, residual=2, sigma_w2=sw, sigma_b2=sb)
    np.testing.assert_allclose(q, [1.1, 1.1 + 1.5 * 1.1 + 0.2, 1.1 + 1.5 * 1.1 + 0.2])


def test_errors_name_the_problem():
    X = np.ones((2, 3))
    with pytest.raises(InitlabError, match="one per weight layer"):
        theory.residual_variances("relu", [2, 4, 4, 1], X, residual=1, sigma_w2=[1.0, 2.0])
    with pytest.raises(InitlabError, match=r"X must be \(n_x, m\) = \(2, m\)"):
        theory.residual_variances("relu", [2, 4, 4, 1], np.ones((3, 3)), residual=1, sigma_w2=2.0)
    with pytest.raises(InitlabError, match="one finite number or one per block"):
        theory.residual_variances("relu", [2, 4, 4, 4, 1], X, residual=1, sigma_w2=2.0, gate=[1, 2, 3])
    with pytest.raises(InitlabError, match="needs a residual network"):
        theory.stream_second_moments(Network([2, 3, 1], init="he", seed=0), X)


def test_scales_of_a_sampler_are_its_theory_per_layer():
    layout = Layout.of_blocks(10, 20, 1, blocks=2, m=1, gate=True)
    s = theory.layer_scales("xavier", layout, gate=0.3)
    np.testing.assert_allclose(s["sigma_w2"], 1.0)
    np.testing.assert_allclose(s["sigma_b2"], 0.0)
    np.testing.assert_allclose(s["gate"], 0.3)
    s = theory.layer_scales("critical:tanh,0.05", layout)
    np.testing.assert_allclose(s["sigma_b2"], 0.05)


def test_measured_one_network_equals_the_ensemble_member():
    X = np.random.default_rng(2).standard_normal((4, 5))
    net = Network(_dims(4, 6, 3, 2), hidden="relu", init="he", seed=[3, 4], residual=2, norm="layernorm")
    q = theory.stream_second_moments(net, X)
    assert q.shape == (2, 4)
    alone = theory.stream_second_moments(net.member(1), X)
    np.testing.assert_array_equal(q[1], alone)


def _within(s: theory.StreamMeasurement, se: float = 4.5) -> None:
    """Every block's ensemble mean within ``se`` standard errors of the prediction, plus a
    finite-width allowance of ``b / width`` (relative) at block b.

    Why the allowance: mean field drops what a stream unit's branch does to itself. Block b's
    branch reads unit i and writes unit i through the same draw (W_ii, and longer loops for
    m > 1), so the stream is not quite symmetric around 0 after a block and a ReLU of it keeps a
    little more than half its second moment: an O(1/width) excess per block, compounding over
    blocks. Measured at 1024 networks (blocks 1-6, ReLU/He, no norm): about +1.1% per block at
    width 64 (+6.7% at block 6, 5 standard errors there) and +3% per block at width 16; with a
    layernorm or tanh under 1.4% at block 6 even at width 16. ``b / width`` covers the worst of
    these by a factor of 1.4 at width 64 and 2 at width 16.
    """
    b = np.arange(s.predicted.size)
    tol = se * s.sem + b / s.width * s.predicted
    bad = np.abs(s.mean - s.predicted) > tol
    assert not bad.any(), [row for row, x in zip(s.table(), bad, strict=True) if x]


def _measure(act, init, m, gate, norm, seed, width=96, networks=48):
    return theory.measure_stream(
        blocks=4,
        width=width,
        residual=m,
        activation=act,
        init=init,
        gate=gate,
        norm=norm,
        networks=networks,
        batch=8,
        seed=seed,
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", QUICK, ids=lambda c: "-".join(map(str, c)))
def test_stream_variance_matches_an_ensemble(case, seed):
    _within(_measure(*case, seed))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", GRID, ids=lambda c: "-".join(map(str, c)))
def test_stream_variance_matches_an_ensemble_whole_grid(case, seed):
    _within(_measure(*case, seed, width=128, networks=64))


def test_scales_of_recipes_are_exact_per_role():
    """Fixup: branch layers He times L^(-1/(2m-2)), last layers and readout 0; GPT-2: 0.02^2 fan_in,
    last layers / N; ZerO: its deterministic matrices; ReZero: He with gates at 0."""
    lay = Layout.of_blocks(64, 16, 10, blocks=4, m=2)
    s = theory.layer_scales("fixup", lay)
    np.testing.assert_allclose(s["sigma_w2"], [2, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0, 0], rtol=1e-12)
    s = theory.layer_scales("gpt2", lay)
    np.testing.assert_allclose(s["sigma_w2"][:3], [0.02**2 * 64, 0.02**2 * 16, 0.02**2 * 16 / 4], rtol=1e-12)
    s = theory.layer_scales("zero", lay)  # 16 of 64 inputs copied: fan_in * mean(W^2) = 64 * 16 / 1024
    np.testing.assert_allclose(s["sigma_w2"], [1, 1, 0, 1, 0, 1, 0, 1, 0, 1], rtol=1e-12)
    s = theory.layer_scales("rezero", Layout.of_blocks(64, 16, 10, blocks=4, m=2, gate=True))
    np.testing.assert_allclose(s["sigma_w2"], 2.0)
    np.testing.assert_array_equal(s["gate"], 0.0)
    with pytest.raises(InitlabError, match="rezero"):  # the recipe's own refusal: it needs gates
        theory.layer_scales("rezero", lay)
