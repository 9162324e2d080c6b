"""Mean-field theory against brute force and against measured ensembles; finite width; the
initializer family of the deep networks issue; LSUV; deep MLPs on digits.

Each statistical check runs at three seeds and must hold at all three."""

import json

import numpy as np
import pytest

from initlab import cli, data, initializers, theory
from initlab.diagnose.propagation import measure_ensemble, propagation
from initlab.errors import InitlabError
from initlab.nn import ACTIVATIONS, Network
from initlab.nn.lsuv import lsuv

from .conftest import SEEDS, SEEDS_LONG


# ------------------------------------------------------------------------------ theory
def test_critical_points():
    assert theory.critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)
    assert theory.critical_sigma_w2("relu", 0.0) == pytest.approx(2.0, abs=1e-6)
    crit = theory.critical_sigma_w2("tanh", np.array([0.0, 0.05, 0.2]))
    assert crit.shape == (3,) and np.all(np.diff(crit) > 0)
    assert theory.chi1("tanh", crit, np.array([0.0, 0.05, 0.2])) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "activation, sw2, sb2", [("tanh", 1.5, 0.05), ("tanh", 3.0, 0.2), ("sigmoid", 4.0, 0.1), ("relu", 1.5, 0.1)]
)
def test_q_star_and_chi1_against_monte_carlo(activation, sw2, sb2, seed):
    g = ACTIVATIONS[activation]
    q = theory.fixed_point(activation, sw2, sb2)
    x1 = theory.chi1(activation, sw2, sb2)
    z = np.random.default_rng(seed).standard_normal(2_000_000)
    u = np.sqrt(q) * z
    assert sw2 * np.mean(g.fn(u) ** 2) + sb2 == pytest.approx(q, rel=0.01)
    assert sw2 * np.mean(g.grad(u) ** 2) == pytest.approx(x1, rel=0.01)


def test_fixed_point_edge_cases_and_vectorized():
    assert theory.fixed_point("relu", 2.0, 0.0, q0=3.0) == 3.0  # a line of fixed points
    assert theory.fixed_point("relu", 2.5, 0.0) == np.inf  # explodes
    assert theory.fixed_point("tanh", 0.5, 0.0) == 0.0  # ordered, no bias: q* = 0
    assert theory.fixed_point("relu", 1.5, 0.1) == pytest.approx(0.1 / (1 - 0.75))
    grid = theory.chi1("tanh", np.linspace(0.5, 3, 6)[:, None], np.linspace(0, 0.2, 4)[None, :])
    assert grid.shape == (6, 4) and np.all(np.diff(grid, axis=0) > 0)
    with pytest.raises(InitlabError, match="sigma_w2 > 0"):
        theory.fixed_point("tanh", -1.0, 0.0)


def test_depth_scales_and_phases():
    ordered = theory.depth_scales("tanh", 1.5, 0.05)
    assert ordered.phase == "ordered" and ordered.c_star == 1.0
    assert ordered.xi_c == pytest.approx(-1 / np.log(ordered.chi1))
    chaotic = theory.depth_scales("tanh", 4.0, 0.05)
    assert chaotic.phase == "chaotic" and chaotic.c_star < 1 and np.isfinite(chaotic.xi_c)
    crit = theory.depth_scales("relu", 2.0, 0.0)
    assert crit.phase == "critical" and crit.xi_c == np.inf
    # xi_q: |q_l - q*| shrinks as exp(-l / xi_q); check against the map itself
    q = theory.variance_by_layer("tanh", 1.5, 0.05, 2.0, 12)
    d = np.abs(q - ordered.q_star)
    assert d[11] / d[10] == pytest.approx(np.exp(-1 / ordered.xi_q), rel=0.02)


@pytest.mark.parametrize("seed", SEEDS_LONG)
def test_relu_he_ensemble_mean_within_4_se(seed):
    # ReLU keeps E[q] exactly at every width (E[relu(z)^2] = q/2 for symmetric z), so the mean-field
    # prediction is the ensemble mean at width 256 as at 512, for a quarter of the draws.
    m = measure_ensemble(depth=50, width=256, init="he", networks=64, seed=seed, backward=False)
    for row in m.layer_table():
        assert abs(row["mean_q"] - row["predicted_q"]) < 4 * row["sem_q"], row


@pytest.mark.parametrize("seed", SEEDS_LONG)
def test_relu_xavier_halves_per_layer(seed):
    m = measure_ensemble(depth=11, width=512, init="xavier", networks=64, seed=seed, backward=False)
    q = m.z_q.mean(axis=0)
    np.testing.assert_allclose(q[1:] / q[:-1], 0.5, rtol=0.05)
    np.testing.assert_allclose(m.predicted_z_q[1:] / m.predicted_z_q[:-1], 0.5, rtol=1e-9)


@pytest.mark.parametrize("seed", SEEDS_LONG)
def test_tanh_converges_to_q_star(seed):
    m = measure_ensemble(
        depth=30,  # q_l reaches q* to 1e-6 by layer 25
        width=512,
        activation="tanh",
        init="variance_scaling:1.5",
        sigma_b2=0.05,
        networks=64,
        seed=seed,
        backward=False,
    )
    q_star = theory.fixed_point("tanh", 1.5, 0.05)
    assert m.predicted_z_q[-1] == pytest.approx(q_star, rel=1e-6)
    for row in m.layer_table():
        assert abs(row["mean_q"] - row["predicted_q"]) < 4 * row["sem_q"], row


@pytest.mark.parametrize("seed", SEEDS_LONG)
def test_finite_width_spread(seed):
    # The spread adds up layer by layer as ~1/width: depth 25 at width 128 is as wide a spread as
    # depth 50 at width 256 (0.95 against 0.96) for an eighth of the random draws.
    wide = measure_ensemble(depth=25, width=128, init="he", networks=512, batch=1, seed=seed, backward=False)
    predicted = theory.finite_width_spread([128] * 25)
    assert predicted == pytest.approx(0.96, abs=0.01)
    assert wide.spread() == pytest.approx(predicted, rel=0.25)
    narrow = measure_ensemble(depth=25, width=32, init="he", networks=512, batch=1, seed=seed, backward=False)
    assert theory.finite_width_spread([32] * 25) / predicted == pytest.approx(4.0, rel=0.01)
    assert narrow.spread() / wide.spread() == pytest.approx(4.0, rel=0.3)


def test_backward_pass_prediction_ordered_tanh():
    """Gradients shrink by chi_1 per layer in the ordered phase: measured beside predicted."""
    m = measure_ensemble(
        depth=20, width=256, activation="tanh", init="variance_scaling:1.5", sigma_b2=0.05, networks=32, seed=0
    )
    ratio = m.grad_q.mean(axis=0)[0] / m.grad_q.mean(axis=0)[-1]
    assert ratio == pytest.approx(m.predicted_grad_q[0] / m.predicted_grad_q[-1], rel=0.15)


# ------------------------------------------------------------------------ propagation
def test_propagation_one_network_and_ensemble():
    ds = data.load("digits")
    net = Network([64, 50, 50, 50, 10], hidden="tanh", output="softmax", init="xavier", seed=0)
    rep = propagation(net, ds.X_train, ds.Y_train)
    assert len(rep.layers) == 4 and rep.layers[0].z_var > 0 and rep.layers[2].grad_q > 0
    ens = Network([64, 50, 50, 50, 10], hidden="relu", output="softmax", init="he", seed=0, ensemble=16)
    rep = propagation(ens, ds.X_train)
    e = rep.layers[1].stats("z_q")
    assert rep.layers[1].z_q.shape == (16,) and e["sem"] > 0 and e["log_spread"] > 0
    assert rep.forward_ratio.shape == (16,)


# --------------------------------------------------------------------- initializers
@pytest.mark.parametrize("shape", [(5, 9), (9, 5), (6, 6), (3, 4, 7)])
@pytest.mark.parametrize("gain", ["1", "2.5", "relu"])
def test_orthogonal(shape, gain):
    W = initializers.get(f"orthogonal:{gain}")(shape, np.random.default_rng(0))
    g2 = initializers.calculate_gain("relu") ** 2 if gain == "relu" else float(gain) ** 2
    for w in W.reshape(-1, *shape[-2:]):
        rows, cols = w.shape
        gram = w @ w.T if rows <= cols else w.T @ w
        np.testing.assert_allclose(gram, g2 * np.eye(min(rows, cols)), atol=1e-10)


def test_gain_table_identity_sparse():
    assert initializers.calculate_gain("tanh") == 5 / 3
    assert initializers.calculate_gain("relu") == np.sqrt(2)
    assert initializers.calculate_gain("leaky_relu", 0.2) == pytest.approx(np.sqrt(2 / 1.04))
    assert initializers.calculate_gain("selu") == 0.75
    with pytest.raises(InitlabError, match="did you mean"):
        initializers.calculate_gain("tahn")
    assert np.array_equal(initializers.get("identity:2")((2, 3), None), [[2, 0, 0], [0, 2, 0]])
    W = initializers.get("sparse:0.3")((10, 40), np.random.default_rng(0))
    assert np.all((W == 0).sum(axis=0) == 3)
    with pytest.raises(InitlabError, match="SPARSITY"):
        initializers.get("sparse:1.5")


def test_every_entry_names_its_equivalents():
    for name, entry in initializers.REGISTRY.items():
        assert entry.equivalents, name
    assert "a=sqrt(5)" in initializers.REGISTRY["pytorch_default"].equivalents["pytorch"]
    assert "truncated" in initializers.REGISTRY["he_normal"].equivalents["jax"]


@pytest.mark.parametrize("seed", SEEDS)
def test_lsuv_unit_variance(seed):
    ds = data.load("digits")
    net = Network(
        [64, 100, 100, 100, 100, 10], hidden="tanh", output="softmax", init="lsuv", bias="random:0.1", seed=seed
    )
    result = lsuv(net, ds.X_train[:, :500])
    assert result.converged and len(result.iterations) == 5
    _, cache = net.forward(ds.X_train[:, :500])
    for _, Z in cache:
        assert abs(Z.var() - 1) <= 0.1


def test_lsuv_runs_in_fit_once():
    ds = data.load("digits")
    net = Network([64, 30, 30, 10], hidden="relu", output="softmax", init=["lsuv", "he"], seed=[0, 0])
    he_before = net.params["W1"][1].copy()
    net.fit(ds.X_train, ds.Y_train, lr=0.1, iterations=0)
    assert net.lsuv_result.converged
    np.testing.assert_array_equal(net.params["W1"][1], he_before)  # the he member is untouched


def test_cli_theory_json_and_critical(capsys, tmp_path):
    for argv in (
        ["theory", "--activation", "tanh", "--sigma-w2", "1.5", "--sigma-b2", "0.05", "--json"],
        ["theory", "--activation", "relu", "--critical", "--json"],
    ):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 0
        out = json.loads(capsys.readouterr().out)
    assert out["critical_sigma_w2"] == pytest.approx(2.0, abs=1e-6)
    with pytest.raises(SystemExit):
        cli.main(["theory", "--activation", "tanh", "--sigma-w2", "1.5", "--sigma-b2", "0.05", "--json"])
    mf = json.loads(capsys.readouterr().out)
    assert {"q_star", "chi1", "xi_q", "xi_c"} <= set(mf)
    png = tmp_path / "phase.png"
    with pytest.raises(SystemExit):
        cli.main(["theory", "--activation", "tanh", "--phase-diagram", str(png)])
    assert png.stat().st_size > 10_000


def test_cli_theory_measure(capsys, tmp_path):
    png = tmp_path / "m.png"
    with pytest.raises(SystemExit) as e:
        cli.main(
            [
                "theory",
                "--measure",
                "--depth",
                "10",
                "--width",
                "64",
                "--init",
                "he",
                "--activation",
                "relu",
                "--networks",
                "16",
                "--plot",
                str(png),
            ]
        )
    out = capsys.readouterr().out
    assert e.value.code == 0 and png.exists()
    assert "finite width" in out and "predicted" in out and "measured" in out


@pytest.mark.slow  # 30 layers x 800 steps on exact products: minutes on 2 cores (test_json runs deep small)
@pytest.mark.parametrize("seed", SEEDS)
def test_deep_relu_on_digits_he_trains_far_from_critical_stalls(seed, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["deep", "--inits", "he,variance_scaling:0.5", "--seed", str(seed), "--json"])
    assert e.value.code == 0
    runs = {r["init"]: r for r in json.loads(capsys.readouterr().out)["runs"]}
    assert runs["he"]["train_accuracy"] >= 0.9 and runs["he"]["verdict"] == "trains"
    assert runs["variance_scaling:0.5"]["train_accuracy"] < 0.25
    assert runs["variance_scaling:0.5"]["verdict"] == "stalls"
    assert "vanished" in runs["variance_scaling:0.5"]["sentence"]


@pytest.mark.parametrize("seed", SEEDS)
def test_network_variances_with_unequal_widths_match_an_ensemble(seed):
    """ReLU/He with widths 128, 64, 32: the mean of q_l over networks is exact at any width
    (E[relu(z)^2 | q] = q/2), so the ensemble mean must sit within 4 standard errors."""
    X = data.load("digits").X_train[:, :200]
    dims = [64, 128, 64, 32, 10]
    predicted = theory.network_variances("relu", "he", dims, X)
    assert predicted.shape == (3,)
    net = Network(dims, hidden="relu", output="softmax", init="he", seed=seed, ensemble=256)
    rep = propagation(net, X)
    for l in range(3):
        q = np.asarray(rep.layers[l].z_q)
        se = q.std(ddof=1) / np.sqrt(q.size)
        assert abs(q.mean() - predicted[l]) < 4 * se, (l, q.mean(), predicted[l], se)


def test_network_variances_per_layer_weight_scale():
    """random:0.5 on unequal widths: sigma_w2 grows with fan-in, layer by layer."""
    X = np.ones((4, 3))
    q = theory.network_variances("identity", "random:0.5", [4, 8, 2, 1], X)
    # identity: q1 = 0.25 * 4 * 1, q2 = 0.25 * 8 * q1
    assert np.allclose(q, [1.0, 2.0])


# ------------------------------------- sigma_b2 = 0: q* is 0 or infinite, chi_1 and xi as limits
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "identity"])
@pytest.mark.parametrize("sw2", [0.8, 2.5])
def test_homogeneous_activation_at_zero_bias_chi1_is_sigma_w2_e_grad_squared(activation, sw2):
    """For a positively homogeneous phi, E[phi'(sqrt(q) z)^2] is the same for every q > 0, so
    chi_1 = sigma_w2 E[phi'(z)^2] whether q* is 0 (sigma_w2 below critical) or infinite (above)."""
    g = ACTIVATIONS[activation]
    z = np.random.default_rng(0).standard_normal(1_000_000)
    mf = theory.depth_scales(activation, sw2, 0.0)
    expected = sw2 * np.mean(g.grad(z) ** 2)
    assert mf.chi1 == pytest.approx(expected, rel=0.005) == theory.chi1(activation, sw2, 0.0)
    for q in (1e-6, 0.3, 30.0, 1e6):  # the limit, checked along the way to it
        assert sw2 * np.mean(g.grad(np.sqrt(q) * z) ** 2) == pytest.approx(mf.chi1, rel=0.005)
    assert mf.q_star == (0.0 if mf.chi1 < 1 else np.inf)
    # xi_q: the variance map is F(q) = chi_q q exactly, q_l - q* ~ exp(-l / xi_q) for q* = 0
    # (xi_q < 0: q grows by e every |xi_q| layers)
    q = theory.variance_by_layer(activation, sw2, 0.0, 1.0, 6)
    np.testing.assert_allclose(q[1:] / q[:-1], np.exp(-1 / mf.xi_q), rtol=1e-9)
    assert mf.xi_c == np.inf and mf.c_star == 1.0


@pytest.mark.parametrize("sw2", [1.0, 2.5])
def test_relu_zero_bias_measured_ensemble_matches_chi1_and_xi_q(sw2):
    """Monte Carlo: 24 random ReLU networks, width 512: the forward variance and the gradient's
    second moment change by chi_1 = sigma_w2 / 2 per layer (0.5 and 1.25, not 0 and inf)."""
    m = measure_ensemble(depth=8, width=512, init=f"variance_scaling:{sw2}", networks=24, seed=0)
    mf = theory.depth_scales("relu", sw2, 0.0)
    fwd = m.z_q.mean(axis=0)
    back = m.grad_q.mean(axis=0)
    np.testing.assert_allclose(fwd[1:] / fwd[:-1], np.exp(-1 / mf.xi_q), rtol=0.05)
    np.testing.assert_allclose(back[:-1] / back[1:], mf.chi1, rtol=0.05)


def test_relu_zero_bias_correlations_converge_slower_than_any_exponential():
    """xi_c = inf for ReLU at sigma_b2 = 0, whatever sigma_w2: the correlation map does not depend
    on sigma_w2 (positive homogeneity) and its slope at c* = 1 is 1, so 1 - c_l falls as a power of l.
    Measured in wide random networks; chi_1 (0.5 or 1.25) would give a per-layer factor far from 1."""
    rng = np.random.default_rng(0)
    n, depth = 2000, 30
    x = rng.standard_normal((n, 1))
    X = np.hstack([x, 0.8 * x + 0.6 * rng.standard_normal((n, 1))])  # correlation about 0.8
    Ws = [rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(depth)]
    curves = {}
    for sw2 in (1.0, 2.5):
        A, c = X, []
        for W in Ws:
            Z = np.sqrt(sw2) * W @ A
            c.append(Z[:, 0] @ Z[:, 1] / np.linalg.norm(Z[:, 0]) / np.linalg.norm(Z[:, 1]))
            A = np.maximum(Z, 0)
        curves[sw2] = 1 - np.array(c)
        assert theory.depth_scales("relu", sw2, 0.0).xi_c == np.inf
    np.testing.assert_allclose(curves[1.0], curves[2.5], rtol=1e-9)  # sigma_w2 drops out
    # the infinite-width map (the arc-cosine kernel, Cho & Saul 2009), from the same inputs
    c = [X[:, 0] @ X[:, 1] / np.linalg.norm(X[:, 0]) / np.linalg.norm(X[:, 1])]
    for _ in range(depth):
        c.append((np.sqrt(1 - c[-1] ** 2) + (np.pi - np.arccos(c[-1])) * c[-1]) / np.pi)
    d = 1 - np.array(c[:-1])  # the map's c at layer l's pre-activation
    np.testing.assert_allclose(curves[1.0], d, atol=0.02)  # measured = the map, to finite-width noise
    factor = d[1:] / d[:-1]  # per layer; one exponential exp(-1/xi_c) would make it constant
    assert np.all(factor < 1)  # correlations do approach c* = 1 ...
    assert np.all(np.diff(factor) > 0) and factor[-1] > 0.93  # ... ever slower: no finite xi_c


def test_cli_theory_relu_zero_bias(capsys):
    for sw2, x1, xi_q, q_star in (("1", 0.5, 1 / np.log(2), 0.0), ("2.5", 1.25, -1 / np.log(1.25), "Infinity")):
        with pytest.raises(SystemExit):
            cli.main(["theory", "--activation", "relu", "--sigma-w2", sw2, "--json"])
        r = json.loads(capsys.readouterr().out)
        assert r["chi1"] == pytest.approx(x1) and r["xi_q"] == pytest.approx(xi_q)
        assert r["q_star"] == q_star and r["xi_c"] == "Infinity" and r["c_star"] == 1.0
    with pytest.raises(SystemExit):
        cli.main(["theory", "--activation", "relu", "--sigma-w2", "1"])
    out = capsys.readouterr().out
    assert "chi1 = 0.5 " in out and "xi_q = 1.443 layers, xi_c = inf" in out


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("sigma_w2", [1.5, 100.0, 1000.0, 1e6])
def test_chi1_and_q_star_against_adaptive_quadrature_at_any_scale(activation, sigma_w2):
    """At a large sigma_w^2 the fixed point q* is large and tanh'/sigmoid' are a narrow peak in
    z: fixed Gauss-Hermite nodes stepped over it (tanh at 1000 gave chi_1 = 0.002, 'ordered';
    right: 17.04, chaotic). Checked here against scipy's adaptive quadrature in u = sqrt(q) z."""
    from scipy.integrate import quad

    g = ACTIVATIONS[activation]
    sigma_b2 = 0.05
    q = float(theory.fixed_point(activation, sigma_w2, sigma_b2)) if activation != "relu" else 2.0

    def expect(f, q):
        s = np.sqrt(q)
        density = lambda u: f(np.array(u)) * np.exp(-u * u / (2 * q)) / np.sqrt(2 * np.pi * q)  # noqa: E731
        cuts = sorted({-60 * s, -60.0, -1.0, 0.0, 1.0, 60.0, 60 * s})
        edges = [-np.inf, *cuts, np.inf]
        return sum(
            quad(density, a, b, limit=400, epsabs=0, epsrel=1e-12)[0]
            for a, b in zip(edges[:-1], edges[1:], strict=True)
            if b > a
        )

    want_chi1 = sigma_w2 * expect(lambda u: g.grad(u) ** 2, q)
    assert float(theory.chi1(activation, sigma_w2, sigma_b2, q=q)) == pytest.approx(want_chi1, rel=1e-7)
    if activation != "relu":  # q* solves q = sigma_w2 E[phi^2] + sigma_b2
        assert q == pytest.approx(sigma_w2 * expect(lambda u: g.fn(u) ** 2, q) + sigma_b2, rel=1e-7)


def test_phase_grid_is_chi1_on_the_grid_and_the_critical_line():
    g = theory.phase_grid("tanh", sigma_w2=[0.5, 1.5, 2.0], sigma_b2=[0.0, 0.1])
    assert g.activation == "tanh" and g.chi1.shape == (2, 3) and g.critical.shape == (2,)
    assert g.chi1 == pytest.approx(theory.chi1("tanh", g.sigma_w2[None, :], g.sigma_b2[:, None]), rel=1e-12)
    assert theory.chi1("tanh", g.critical, g.sigma_b2) == pytest.approx(1.0, abs=1e-6)
    assert (g.chi1 < 1).tolist() == (g.sigma_w2[None, :] < g.critical[:, None]).tolist()  # ordered left
    assert set(g.to_dict()) == {"activation", "sigma_w2", "sigma_b2", "chi1", "critical"}
    with pytest.raises(InitlabError, match="unknown activation"):
        theory.phase_grid("nope")


def test_edge_of_chaos_is_the_mean_field_at_the_critical_sigma_w2():
    mf = theory.edge_of_chaos("tanh", 0.05)
    assert 1 < mf.sigma_w2 < 2 and mf.sigma_b2 == 0.05
    assert mf.chi1 == pytest.approx(1.0, abs=1e-6) and mf.phase == "critical"
