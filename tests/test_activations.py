"""The activation table walked row by row: what every activation must have, checked for each.

Adding an activation is one row in `initlab.nn.activations.ACTIVATIONS`; these tests then ask
of the new row what they ask of the others (they read the table, never a list of names). A
parametrized family is asked the same at a value other than its default (``leaky_relu:-0.2``:
a negative slope, the case where ``g'`` cannot be read from ``g``).
"""

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from initlab import theory
from initlab.diagnose.propagation import measure_ensemble
from initlab.errors import InitlabError
from initlab.initializers import calculate_gain
from initlab.nn import HIDDEN, Network, codegen, fast
from initlab.nn.activations import ACTIVATIONS, SELU_ALPHA, SELU_LAMBDA, standard_normal_mean
from initlab.nn.network import gradient_check

from . import test_laws as laws
from .conftest import SEEDS_LONG, run

ROWS = list(ACTIVATIONS)
#: every hidden row, and each family at a value other than its default
HIDDEN_ALL = [*HIDDEN, *(f"{f}:-0.2" for f in ACTIVATIONS.families)]
KERNEL_ROWS = [n for n in HIDDEN_ALL if ACTIVATIONS[n].kernel is not None]
NO_FLOAT_TROUBLE = dict(over="raise", invalid="raise", divide="raise", under="ignore")


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
        assert act.gain is not None and act.gain > 0, f"{name} has no gain"
        assert act.max_slope > 0 and act.init


@pytest.mark.parametrize("name", HIDDEN_ALL)
def test_stable_at_z_1000_and_beyond(name):
    """``|z| = 1000``: finite values and derivatives, no overflow, no NaN, no warning, and the
    limits the formulas have there (slopes at the far right and left, values at the far left)."""
    act = ACTIVATIONS[name]
    z = np.array([-745.0, -40.0, 0.0, 40.0, 745.0])
    with np.errstate(**NO_FLOAT_TROUBLE):
        g, gp = act.fn(z), act.grad(z)
        g1000, gp1000 = act.fn(np.array([-1000.0, 1000.0])), act.grad(np.array([-1000.0, 1000.0]))
    assert np.isfinite(g).all() and np.isfinite(gp).all(), name
    h = 1e-3  # the slopes at +-1000 are the formulas' asymptotes
    with np.errstate(**NO_FLOAT_TROUBLE):
        far = (act.fn(np.array([-1000.0 + h, 1000.0 + h])) - act.fn(np.array([-1000.0 - h, 1000.0 - h]))) / (2 * h)
    np.testing.assert_allclose(gp1000, far, rtol=1e-6, atol=1e-9, err_msg=name)
    assert np.isfinite(g1000).all()


@pytest.mark.parametrize("name", KERNEL_ROWS)
def test_the_kernel_row_computes_the_numpy_function_and_derivative(name):
    """The statements the compiled kernel is generated from, against ``fn`` and ``grad``: ``g`` to
    two ulps of ``max(1, |g|)`` from 1e-300 to 40, ``g'`` to eight (tanh's ``1 - a^2`` carries
    ``a``'s rounding twice over), and finite at |z| = 1000."""
    z = np.concatenate([np.linspace(-40, 40, 8001), np.logspace(-300, 2, 500), -np.logspace(-300, 2, 500), [0.0, -0.0]])
    act = ACTIVATIONS[name]
    pairs = ((codegen.elementwise(name), act.fn, 2), (codegen.elementwise(name, True), act.grad, 8))
    for compiled, numpy_fn, ulps in pairs:
        want = numpy_fn(z)
        assert np.max(np.abs(compiled(z) - want) / np.maximum(1.0, np.abs(want))) <= ulps * 2.23e-16, name
        assert np.isfinite(compiled(np.array([-1000.0, 1000.0]))).all()


@pytest.mark.parametrize("name", HIDDEN_ALL)
def test_every_hidden_activation_passes_the_gradient_check(name):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 12))
    Y = (rng.random((1, 12)) < 0.5).astype(float)
    net = Network([3, 4, 3, 1], hidden=name, init="xavier", bias="random:0.1", seed=5)
    assert gradient_check(net, X, Y) < 2e-7, name


@pytest.mark.parametrize("name", HIDDEN_ALL)
def test_every_hidden_activation_trains_on_every_engine_to_the_same_numbers(name):
    """One small shape per activation ([2, 10, 5, 1], the one tests/test_fast.py and
    tests/test_laws.py compile too): the compiled kernel equals the NumPy path to 1e-12."""
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
    assert len(nets) == 2 or not fast.AVAILABLE
    for net in nets.values():
        for k in ref.params:
            assert np.abs(net.params[k] - ref.params[k]).max() < 1e-12, (name, k)


@pytest.mark.parametrize("name", HIDDEN_ALL)
def test_every_hidden_activation_has_a_theory(name):
    """The variance map, and a critical sigma_w^2 where chi_1 passes through 1, or an error
    saying why not."""
    q = theory.variance_map(name, np.array([0.5, 1.0]), 2.0, 0.0)
    assert np.isfinite(q).all() and (q > 0).all()
    try:
        crit = float(theory.critical_sigma_w2(name))
    except InitlabError as e:  # sigmoid: always ordered; GELU, SiLU: chi_1 jumps over 1
        assert "no critical sigma_w2" in str(e) and ("always ordered" in str(e) or "jumps over 1" in str(e))
    else:
        assert 0 < crit < 100
        assert float(theory.chi1(name, crit, 0.0)) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", HIDDEN_ALL)
def test_the_variance_map_increases_with_q(name):
    """What `theory.fixed_point` relies on: ``E[phi(sqrt(q) z)^2]`` grows with ``q``, so the
    variance's orbit from ``q0`` is monotone and ends at the nearest fixed point on its side."""
    q = np.logspace(-8, 8, 400)
    assert np.all(np.diff(theory.variance_map(name, q, 1.0, 0.0)) > 0), name


@pytest.mark.parametrize("name", HIDDEN)
def test_every_hidden_activation_is_offered_by_the_cli_and_has_its_gain(name, capsys):
    from initlab import cli

    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert name in out, f"train --help does not offer {name}"
    assert calculate_gain(name) == ACTIVATIONS[name].gain
    for family in ACTIVATIONS.families.values():
        assert family.usage in out  # leaky_relu[:SLOPE]


# ------------------------------------------------------------------------------- gains
def test_calculate_gain_is_pytorchs_for_every_name_pytorch_knows():
    torch = pytest.importorskip("torch")
    names = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    names += ["sigmoid", "tanh", "relu", "leaky_relu", "selu"]
    for name in names:
        assert calculate_gain(name) == torch.nn.init.calculate_gain(name), name
    for slope in (0.2, -0.3, 0, 1, 3, 0.01):
        want = torch.nn.init.calculate_gain("leaky_relu", slope)
        assert calculate_gain("leaky_relu", slope) == want == ACTIVATIONS[f"leaky_relu:{slope}"].gain
    # every row PyTorch knows has PyTorch's gain (the identity is its "linear"); what PyTorch
    # refuses, the rows answer by the second moment
    for name in HIDDEN:
        try:
            want = torch.nn.init.calculate_gain("linear" if name == "identity" else name)
        except ValueError:
            assert ACTIVATIONS[name].torch_gain is None, name
        else:
            assert ACTIVATIONS[name].gain == want, name


@pytest.mark.parametrize("name", [n for n in HIDDEN if ACTIVATIONS[n].torch_gain is None])
def test_a_gain_pytorch_lacks_preserves_the_second_moment(name):
    """``gain^2 E[g(z)^2] = 1``: by the table's quadrature, by the theory's variance map (weights
    of variance gain^2 / fan_in map q = 1 to q = 1), and by Monte Carlo within 4 standard errors."""
    g = ACTIVATIONS[name]
    assert g.gain**2 * standard_normal_mean(lambda z: g.fn(z) ** 2) == pytest.approx(1.0, rel=1e-12)
    assert float(theory.variance_map(name, 1.0, g.gain**2, 0.0)) == pytest.approx(1.0, rel=1e-9)
    z = np.random.default_rng(0).standard_normal(1_000_000)
    v = g.gain**2 * g.fn(z) ** 2
    assert abs(v.mean() - 1.0) < 4 * v.std() / np.sqrt(z.size)


def test_calculate_gain_errors():
    with pytest.raises(InitlabError, match="did you mean"):
        calculate_gain("gleu")
    with pytest.raises(InitlabError, match="takes no parameter"):
        calculate_gain("tanh", 0.2)
    with pytest.raises(InitlabError, match="SLOPE must be a number"):
        calculate_gain("leaky_relu", "steep")


# --------------------------------------------------------------- parametrized activations
def test_a_family_is_named_and_parsed_once_by_the_table():
    leaky = ACTIVATIONS["leaky_relu"]
    assert ACTIVATIONS["leaky_relu:0.01"] is leaky and ACTIVATIONS["leaky_relu:1e-2"] is leaky
    row = ACTIVATIONS["leaky_relu: 0.20"]
    assert row.name == "leaky_relu:0.2" and row is ACTIVATIONS["leaky_relu:0.2"]
    assert "leaky_relu:0.2" in HIDDEN and "leaky_relu:0.2" in ACTIVATIONS and "leaky_relu" in HIDDEN
    assert "leaky_relu:0.2" not in list(HIDDEN)  # iterating (menus, help) gives the plain names
    assert "relu:0.2" not in HIDDEN and "nope" not in ACTIVATIONS
    z = np.array([-2.0, 3.0])
    np.testing.assert_array_equal(row.fn(z), [-0.4, 3.0])
    np.testing.assert_array_equal(row.grad(z), [0.2, 1.0])
    for bad, why in (("leaky_relu:steep", "must be a number"), ("leaky_relu:nan", "must be finite")):
        assert bad not in HIDDEN and bad not in ACTIVATIONS  # `in` answers; canonical says why
        with pytest.raises(InitlabError, match=why):
            HIDDEN.canonical(bad)
    assert HIDDEN.usage().startswith("sigmoid, tanh, relu, leaky_relu[:SLOPE]")


def test_a_parametrized_activation_reaches_every_face():
    from initlab import initializers
    from initlab.experiments.run import RunConfig

    net = Network([2, 3, 1], hidden="leaky_relu:0.2", seed=0)
    assert net.activations[0].name == "leaky_relu:0.2"
    assert RunConfig("xor", (2, 3, 1), "leaky_relu:0.2").hidden == "leaky_relu:0.2"
    assert float(theory.critical_sigma_w2("leaky_relu:0.2")) == pytest.approx(2 / 1.04, rel=1e-9)
    assert initializers.canonical("critical:leaky_relu:0.2") == "critical:leaky_relu:0.2"
    assert initializers.canonical("critical:leaky_relu:0.010") == "critical:leaky_relu"
    with pytest.raises(InitlabError, match="SLOPE must be a number"):
        Network([2, 3, 1], hidden="leaky_relu:x")


# ------------------------------------------------ one name per activation, however written
def test_a_name_is_read_as_every_spec_is_in_one_canonical_form():
    """``GELU`` is ``gelu`` (as ``HE`` is ``he`` and ``CRITICAL:GELU`` was already): the table reads
    names case-insensitively and `HIDDEN.canonical` gives the row's one name."""
    assert ACTIVATIONS["GELU"] is ACTIVATIONS["gelu"]
    assert ACTIVATIONS[" Leaky_ReLU:0.20 "] is ACTIVATIONS["leaky_relu:0.2"]
    assert "SiLU" in HIDDEN and "SOFTMAX" not in HIDDEN
    for written, name in (("SELU", "selu"), (" gelu_tanh", "gelu_tanh"), ("leaky_relu:1e-2", "leaky_relu")):
        assert HIDDEN.canonical(written) == name
    with pytest.raises(InitlabError, match=r"unknown hidden activation 'relux' \(did you mean relu"):
        HIDDEN.canonical("relux")
    with pytest.raises(
        InitlabError, match=r"softmax is an output activation only.*choose a hidden one from: .*leaky_relu\[:SLOPE\]"
    ):
        HIDDEN.canonical("softmax", "activation")


def test_one_network_has_one_identity_however_its_activations_are_written(capsys):
    """A run's id, its ensemble group and the store's ``hidden`` column use the canonical names:
    ``leaky_relu:0.20`` and ``leaky_relu:0.2`` (or ``GELU`` and ``gelu``) in a sweep were two runs
    of one network, each trained and stored."""
    from initlab.experiments.run import RunConfig
    from initlab.experiments.sweep import parse_spec

    for a, b in (("GELU", "gelu"), ("leaky_relu:0.20", "leaky_relu:0.2"), ("leaky_relu:0.01", "leaky_relu")):
        ca, cb = RunConfig("xor", (2, 3, 3, 1), a), RunConfig("xor", (2, 3, 3, 1), b)
        assert ca.id == cb.id and ca.group == cb.group and ca.hidden == b
    assert RunConfig("xor", (2, 3, 3, 1), ("Relu", "SELU")).hidden == ("relu", "selu")
    assert Network([2, 3, 3, 1], hidden=["GELU", "Leaky_ReLU:0.010"]).hidden == ["gelu", "leaky_relu"]
    assert Network([2, 3, 1], output="SIGMOID").output == "sigmoid"  # was: no default loss for 'SIGMOID'
    spec = parse_spec(
        "[sweep]\nname = 'a'\ndata = 'xor'\nlayers = [2, 3, 1]\n"
        "hidden = ['gelu', 'GELU', 'leaky_relu:0.2', 'leaky_relu:0.20']\ninits = ['he']\nlr = 0.1\n"
        "iterations = 5\nseeds = 1\n"
    )
    assert sorted({r.hidden for r in spec.runs()}) == ["gelu", "leaky_relu:0.2"]
    assert len({r.id for r in spec.runs()}) == 2
    code, out, _ = run(["theory", "--activation", "GELU", "--sigma-w2", "2", "--json"], capsys)
    assert code == 0 and json.loads(out)["activation"] == "gelu"


def test_a_bad_slope_in_a_sweep_file_names_the_line_and_key():
    """It was the table's bare message, without the file, line and key every other key's has."""
    from initlab.experiments.sweep import parse_spec

    text = (
        "[sweep]\nname = 'a'\ndata = 'xor'\nlayers = [2, 3, 1]\nhidden = ['relu', 'leaky_relu:abc']\n"
        "inits = ['he']\nlr = 0.1\niterations = 5\nseeds = 1\n"
    )
    with pytest.raises(InitlabError, match=r"^a\.toml, line 5: key 'hidden' .*SLOPE must be a number"):
        parse_spec(text, "a.toml")


def test_the_docs_point_at_the_table_instead_of_listing_activations():
    """README's "Networks" row and docs/networks.md listed the five activations before issue 20
    by hand, and went stale when six were added: they point at docs/activations.md."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for doc in ("README.md", "docs/networks.md"):
        text = (root / doc).read_text()
        assert "sigmoid, tanh, relu, leaky_relu, identity" not in text, doc
        assert "`sigmoid`, `tanh`, `relu`, `leaky_relu`" not in text, doc
        assert "activations.md" in text, doc


def test_theory_at_a_huge_sigma_w2_has_no_overflow_warning():
    """sigma_w2 = 1e300 printed numpy's overflow and inf / inf warnings on stderr (from the
    correlation slope at q* = inf) and xi_q = -0.0 for ReLU-like rows; its slopes are finite."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("gelu", "relu", "selu", "softplus"):
            mf = theory.depth_scales(name, 1e300, 0.0)
            assert mf.q_star == np.inf and mf.phase == "chaotic"
            assert mf.xi_q == pytest.approx(-1 / np.log(mf.chi1), rel=1e-3)  # q grows by chi_q = chi_1


# ------------------------------------------------------------- saturated and dead, per row
def test_saturated_and_dead_are_one_rule_read_from_the_rows():
    """``|g'(z)| < threshold * max_slope``: saturated fractions for the rows that saturate, dead
    units for the rows that die; where each rule begins, at the default threshold 0.05."""
    z = np.linspace(-20, 20, 400_001)

    def edges(name):
        weak = ACTIVATIONS[name].weak(z, 0.05)
        return z[np.flatnonzero(np.diff(weak.astype(int)))]

    np.testing.assert_allclose(edges("sigmoid"), [-4.357, 4.357], atol=1e-3)
    np.testing.assert_allclose(edges("tanh"), [-2.178, 2.178], atol=1e-3)
    np.testing.assert_allclose(edges("relu"), [0.0], atol=1e-4)
    for name, left in (("softplus", -2.944), ("elu", -2.996), ("selu", -2.996)):
        np.testing.assert_allclose(edges(name), [left], atol=1e-3)
    np.testing.assert_allclose(edges("gelu"), [-2.279, -0.903, -0.633], atol=1e-3)
    np.testing.assert_allclose(edges("silu"), [-3.930, -1.595, -1.059], atol=1e-3)
    for name in ("sigmoid", "tanh", "softplus", "elu", "selu"):  # as docs/diagnostics.md says
        assert ACTIVATIONS[name].saturating and not ACTIVATIONS[name].dying
    for name in ("relu", "gelu", "gelu_tanh", "silu"):
        assert ACTIVATIONS[name].dying and not ACTIVATIONS[name].saturating
    assert ACTIVATIONS["sigmoid"].max_slope == 0.25 and ACTIVATIONS["tanh"].max_slope == 1.0
    assert ACTIVATIONS["selu"].max_slope == pytest.approx(SELU_LAMBDA * SELU_ALPHA, rel=1e-15)


@pytest.mark.parametrize("name", [n for n in HIDDEN if ACTIVATIONS[n].saturating or ACTIVATIONS[n].dying])
def test_saturation_report_measures_what_the_row_says(name):
    from initlab import saturation

    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 50))
    net = Network([2, 8, 1], hidden=name, init="random:20", bias="random:5", seed=1)
    layer = saturation(net, X).layers[0]
    row = ACTIVATIONS[name]
    _, cache = net.forward(X)
    weak = row.weak(cache[0][1], 0.05)
    assert (layer.saturated_fraction is not None) == row.saturating
    assert (layer.dead_fraction is not None) == row.dying
    if row.saturating:
        assert layer.saturated_fraction == weak.mean()
    if row.dying:
        assert layer.dead_fraction == weak.all(axis=-1).mean()


# ------------------------------------------------------------- theory against Monte Carlo
def _point(name: str) -> tuple[float, float]:
    """A (sigma_w2, sigma_b2) with a finite, nonzero q* for the activation: (1.5, 0.1), or
    (0.75, 0.1) where the variance grows without bound at 1.5 (the identity)."""
    return (1.5, 0.1) if np.isfinite(theory.fixed_point(name, 1.5, 0.1)) else (0.75, 0.1)


@pytest.mark.parametrize("seed", SEEDS_LONG)
@pytest.mark.parametrize("name", HIDDEN_ALL)
def test_theory_json_against_monte_carlo_over_an_ensemble(name, seed, capsys):
    """``initlab theory --activation ACT --sigma-w2 W --sigma-b2 B --json``: its q_star and chi1
    against Monte Carlo. (1) 32 random networks of width 256, 8 layers: the mean of each layer's
    q within 4 standard errors of the variance map's prediction, and the gradient's second
    moment shrinking per layer by chi_1 at each layer's q, within 4 standard errors. (2) q* solves
    q = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2 and chi_1 = sigma_w2 E[phi'(sqrt(q*) z)^2]: both
    means over 10^6 draws within 4 standard errors."""
    sw2, sb2 = _point(name)
    code, out, _ = run(
        ["theory", "--activation", name, "--sigma-w2", str(sw2), "--sigma-b2", str(sb2), "--json"], capsys
    )
    assert code == 0
    mf = json.loads(out)
    q_star, chi1 = mf["q_star"], mf["chi1"]
    assert 0 < q_star < 1e3 and mf["activation"] == ACTIVATIONS[name].name

    m = measure_ensemble(
        depth=8, width=256, activation=name, init=f"variance_scaling:{sw2}", sigma_b2=sb2, networks=32, seed=seed
    )
    for row in m.layer_table():
        assert abs(row["mean_q"] - row["predicted_q"]) < 4 * row["sem_q"], (name, row)
    per_layer = np.log(m.grad_q[:, :-1] / m.grad_q[:, 1:])  # (E, L-1): log of the factor per layer
    measured = per_layer.mean(axis=1)  # per network
    predicted = np.log(m.predicted_grad_q[:-1] / m.predicted_grad_q[1:]).mean()
    assert abs(measured.mean() - predicted) < 4 * measured.std(ddof=1) / np.sqrt(measured.size), name

    g = ACTIVATIONS[name]
    u = np.sqrt(q_star) * np.random.default_rng(seed).standard_normal(1_000_000)
    for values, want in ((sw2 * g.fn(u) ** 2 + sb2, q_star), (sw2 * g.grad(u) ** 2, chi1)):
        assert abs(values.mean() - want) <= 4 * values.std() / np.sqrt(u.size) + 1e-12 * want, name


@pytest.mark.parametrize("seed", SEEDS_LONG)
def test_selu_fixed_point_is_q_1_at_sigma_w2_1(seed, capsys):
    """Klambauer et al. 2017: with sigma_w^2 = 1, sigma_b^2 = 0 the SELU's mean 0 and variance 1
    are a fixed point, so q* = 1; it is attracting (xi_q = 4.1 layers) and chaotic (chi_1 =
    1.0716: two inputs decorrelate). Measured: 32 networks of width 256 keep q = 1 for 12 layers."""
    code, out, _ = run(["theory", "--activation", "selu", "--sigma-w2", "1", "--sigma-b2", "0", "--json"], capsys)
    mf = json.loads(out)
    assert code == 0 and mf["q_star"] == pytest.approx(1.0, abs=1e-12) and mf["phase"] == "chaotic"
    assert mf["chi1"] == pytest.approx(1.0716, abs=1e-4) and mf["xi_q"] == pytest.approx(4.08, abs=0.01)
    assert standard_normal_mean(lambda z: ACTIVATIONS["selu"].fn(z)) == pytest.approx(0.0, abs=1e-14)
    m = measure_ensemble(depth=12, width=256, activation="selu", init="lecun_normal", networks=32, seed=seed)
    first, last = abs(m.predicted_z_q[0] - 1), abs(m.predicted_z_q[-1] - 1)  # q1 = mean(x^2) ~ 1
    assert last <= 0.1 * first + 1e-12  # drawn to q* = 1 by exp(-11 / 4.08) = 0.07
    for row in m.layer_table():
        assert abs(row["mean_q"] - row["predicted_q"]) < 4 * row["sem_q"], row


def test_gelu_and_silu_have_no_edge_of_chaos_at_zero_bias():
    """At sigma_b^2 = 0 the variance map of GELU/SiLU is sigma_w2 r(q) q with r rising from 1/4
    (q -> 0) to 1/2 (q -> inf): 0 is a fixed point, stable for sigma_w2 < 4, and for
    2 < sigma_w2 < 4 an unstable one sits between (r(q) = 1 / sigma_w2). From q = 1 the variance
    dies (chi_1 -> sigma_w2 / 4 < 1) or grows without bound (chi_1 -> sigma_w2 / 2 > 1): chi_1 jumps
    over 1 and no sigma_w2 is critical. With sigma_b^2 >= 0.18 (GELU) or 0.56 (SiLU) the stable
    branch reaches chi_1 = 1 before it ends, and a critical sigma_w2 exists."""
    for name, sw2_jump in (("gelu", 2.352), ("silu", 2.811)):
        r = [float(theory.variance_map(name, q, 1.0, 0.0)) / q for q in (1e-6, 1.0, 1e4)]
        assert r[0] == pytest.approx(0.25, abs=1e-5) and r[0] < r[1] < r[2] < 0.5
        below, above = theory.depth_scales(name, sw2_jump - 0.01, 0.0), theory.depth_scales(name, sw2_jump + 0.01, 0.0)
        assert below.q_star == 0.0 and below.chi1 == pytest.approx((sw2_jump - 0.01) / 4, rel=1e-6)
        assert above.q_star == np.inf and above.chi1 == pytest.approx((sw2_jump + 0.01) / 2, rel=1e-6)
        with pytest.raises(InitlabError, match=f"jumps over 1 .* at sigma_w2 = {sw2_jump}"):
            theory.critical_sigma_w2(name, 0.0)
    crit = theory.phase_grid("gelu", sigma_w2=[1.0, 2.0], sigma_b2=[0.0, 0.17, 0.18, 0.3]).critical
    assert np.isnan(crit[:2]).all() and np.isfinite(crit[2:]).all()
    assert theory.critical_sigma_w2("silu", 0.56) == pytest.approx(1.9873, abs=1e-4)
    with pytest.raises(InitlabError, match="jumps over 1"):
        theory.critical_sigma_w2("silu", 0.55)


@pytest.mark.parametrize("seed", SEEDS_LONG)
def test_gelu_at_its_critical_point_measured(seed):
    """critical:gelu,0.3 (sigma_w2 = 1.9562, q* = 8.77): 32 networks of width 256, 10 layers,
    biases of variance 0.3: the forward variance follows the map and the gradient's second moment
    is kept to within a few percent per layer (chi_1 -> 1 as q approaches q*)."""
    from initlab import initializers

    sampler = initializers.get("critical:gelu,0.3")
    assert sampler.scale == pytest.approx(1.956159, abs=1e-6) and sampler.bias == "random:0.5477225575051661"
    m = measure_ensemble(
        depth=10, width=256, activation="gelu", init="critical:gelu,0.3", sigma_b2=0.3, networks=32, seed=seed
    )
    for row in m.layer_table():
        assert abs(row["mean_q"] - row["predicted_q"]) < 4 * row["sem_q"], row
    factor = np.exp(np.log(m.grad_q[:, :-1] / m.grad_q[:, 1:]).mean())
    assert 0.93 < factor < 1.01


# ----------------------------------------------------- the laws, for every row (test_laws.py)
LAWS = {  # each law of tests/test_laws.py, with the inits it is stated for
    "equal units stay bit-identical": (
        laws.test_equal_units_stay_bit_identical_at_every_step,
        ["zeros", "constant:0.3", "constant:-0.7"],
    ),
    "copied units stay copies": (laws.test_copied_units_stay_copies_and_symmetry_finds_exactly_them, ["he", "xavier"]),
    "permuting units permutes parameters": (laws.test_permuting_hidden_units_permutes_the_trained_parameters, ["he"]),
    "a member trains as alone": (laws.test_an_ensemble_member_trains_to_the_bits_it_gets_alone, ["he", "zeros"]),
}


@pytest.mark.parametrize("law", list(LAWS))
@pytest.mark.parametrize("name", HIDDEN_ALL)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_the_laws_hold_for_every_row(name, law, data):
    """tests/test_laws.py's laws on cases Hypothesis draws (shapes, ensembles, layouts, both
    engines; the compiled one on the shape it already compiled), the activation fixed to the row:
    bit for bit, as for every other activation."""
    check, inits = LAWS[law]
    case = data.draw(laws.cases().map(lambda c: {**c, "hidden": name}), label="case")
    check.hypothesis.inner_test(case=case, init=data.draw(st.sampled_from(inits), label="init"))


def test_leaky_relu_of_slope_zero_dies_as_relu_does():
    """leaky_relu:0 is ReLU: its dead units are counted (it said nothing of them)."""
    from initlab.diagnose import saturation

    zero, relu = ACTIVATIONS["leaky_relu:0"], ACTIVATIONS["relu"]
    assert zero.dying and relu.dying and not ACTIVATIONS["leaky_relu:0.2"].dying
    X = np.abs(np.random.default_rng(0).standard_normal((2, 40)))
    reports = []
    for hidden in ("leaky_relu:0", "relu"):
        net = Network([2, 6, 1], hidden=hidden, init="he", seed=0)
        net.params["b1"][:3] = -100.0  # three units below zero on every example: dead
        reports.append(saturation(net, X))
    layers = [r.to_dict()["layers"][0] for r in reports]
    assert layers[0]["activation"] == "leaky_relu:0" and layers[1]["activation"] == "relu"
    assert {**layers[0], "activation": "relu"} == layers[1]
    assert layers[0]["dead_fraction"] >= 0.5  # the three pushed below zero, at least


@pytest.mark.parametrize("face", ["network", "critical"])
def test_softmax_as_a_hidden_activation_says_it_is_output_only(face):
    """The error said 'unknown hidden activation' for a name the table has (trial, issue 20)."""
    from initlab import Network, initializers

    with pytest.raises(InitlabError, match="output activation only"):
        if face == "network":
            Network([2, 3, 1], hidden="SoftMax")
        else:
            initializers.get("critical:softmax")
