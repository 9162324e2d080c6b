"""Recipes (`initlab.initializers.RECIPES`): each one's defining property exactly, on generated
residual networks, against constructions computed here independently (scipy's Hadamard, NumPy's
draws replayed by the papers' formulas), and delta-orthogonal for convolution kernels."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from initlab import InitlabError, initializers
from initlab.nn.network import Network
from initlab.nn.residual import Layout
from initlab.nn.residual import initialize as residual_initialize

from .conftest import SEEDS

RECIPES = initializers.RECIPES
#: hidden activations computed here by hand, for outputs checked against a construction
BY_HAND = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh, "identity": lambda z: z}


def _dims(n_x, width, n_y, blocks, m):
    return [n_x] + [width] * (1 + blocks * m) + [n_y]


def _layer_norm(S):
    """PyTorch's LayerNorm over the units (axis -2) at gain 1, bias 0, eps 1e-5."""
    mu = S.mean(axis=-2, keepdims=True)
    return (S - mu) / np.sqrt(((S - mu) ** 2).mean(axis=-2, keepdims=True) + 1e-5)


def _zero_matrix(P, Q):
    """ZerO's Algorithm 1 as the paper writes it, with scipy's Hadamard matrix."""
    if P <= Q:
        return np.eye(P, Q)
    m = int(np.ceil(np.log2(P)))
    p = 2**m
    return 2.0 ** (-(m - 1) / 2) * np.eye(P, p) @ scipy.linalg.hadamard(p) @ np.eye(p, Q)


def _std_within(sample, expected, k=4.0):
    """The sample std of ``sample`` (mean 0 known) is ``expected`` within k standard errors:
    for n normal draws the std of sqrt(mean(W^2)) is about sigma / sqrt(2n)."""
    n = sample.size
    rms = np.sqrt(np.mean(sample**2))
    assert abs(rms - expected) < k * expected / np.sqrt(2 * n), (rms, expected, n)


# ------------------------------------------------------------------- the registry's rows
def test_recipes_are_listed_with_kind_help_and_paper():
    rows = {r["name"]: r for r in initializers.catalog()}
    assert set(RECIPES) <= set(rows)
    assert {n for n, r in rows.items() if r["kind"] == "recipe"} == set(RECIPES)
    for name in RECIPES:
        assert "recipe" in rows[name]["help"] and rows[name]["formula"]
        assert "paper" in initializers.explain(name)["equivalents"]
        assert hasattr(initializers.get(name), "residual")
    assert rows["delta_orthogonal"]["kind"] == "sampler"


@pytest.mark.parametrize(
    "written, form",
    [
        ("FIXUP", "fixup:he"),
        (" fixup:he ", "fixup:he"),
        ("fixup:HE_UNIFORM", "fixup:he_uniform"),
        ("rezero", "rezero:he"),
        ("rezero:glorot_uniform", "rezero:glorot_uniform"),
        ("rezero:orthogonal:relu", "rezero:orthogonal:relu"),
        ("skipinit:he", "skipinit:he"),
        ("Zero", "zero"),
        ("gpt2", "gpt2"),
        ("t_fixup", "t_fixup"),
        ("delta_orthogonal", "delta_orthogonal:1"),
        ("delta_orthogonal:relu", "delta_orthogonal:relu"),
    ],
)
def test_canonical_round_trips_and_draws_the_same(written, form):
    assert initializers.canonical(written) == form
    assert initializers.canonical(form) == form
    a = initializers.get(written)((6, 4), np.random.default_rng(3))
    b = initializers.get(form)((6, 4), np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert initializers.split_specs(f"he,{written},zeros") == ["he", written.strip(), "zeros"]


def test_a_recipes_base_is_a_plain_sampler():
    for bad in ("fixup", "zero", "lsuv", "delta_orthogonal"):
        with pytest.raises(InitlabError, match="BASE must be a plain sampler"):
            initializers.get(f"rezero:{bad}")
    with pytest.raises(InitlabError, match="unknown initializer"):
        initializers.get("fixup:hee")


# ------------------------------------------------------------------------------- Fixup
CASES = dict(
    m=st.integers(1, 3),
    blocks=st.integers(0, 4),
    width=st.integers(1, 7),
    n_x=st.integers(1, 4),
    n_y=st.integers(1, 3),
    gate=st.sampled_from([None, True]),
    norm=st.sampled_from([None, "layernorm"]),
    seed=st.integers(0, 2**16),
)


@settings(max_examples=40, deadline=None)
@given(**CASES)
def test_fixup_zeroes_readout_and_last_layers_and_scales_the_rest(m, blocks, width, n_x, n_y, gate, norm, seed):
    """Every branch's last layer and the readout exactly 0; every other weight is the He draw
    (replayed here from the same generator: randn * sqrt(2 / fan_in)) times L^(-1/(2m-2)) inside
    a branch; biases 0, gates 1."""
    dims = _dims(n_x, width, n_y, blocks, m)
    net = Network(dims, hidden="relu", init="fixup", seed=seed, residual=m, gate=gate, norm=norm)
    p, lay = net.params, net.layout
    rng = np.random.default_rng(seed)
    scale = blocks ** (-1 / (2 * m - 2)) if m > 1 and blocks else 1.0
    for role in lay.roles():
        W = p[f"W{role.layer}"]
        assert np.all(p[f"b{role.layer}"] == 0)
        if role.kind == "readout" or (role.kind == "branch" and role.j == m):
            assert np.all(W == 0), role
            continue
        fan_in = dims[role.layer - 1]
        expected = rng.standard_normal(W.shape) * np.sqrt(2 / fan_in)
        if role.kind == "branch":
            expected = expected * scale
        np.testing.assert_allclose(W, expected, rtol=1e-13, atol=0, err_msg=str(role))
    for b in range(1, blocks + 1):
        assert (f"gate{b}" in p) == bool(gate)
        if gate:
            assert p[f"gate{b}"].item() == 1.0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("m, blocks", [(2, 4), (3, 4), (2, 9)])
def test_fixup_branch_std_over_an_ensemble(m, blocks, seed):
    """Over 6 networks of width 40 the branch layers' std is sqrt(2/40) * L^(-1/(2m-2)) within
    4 standard errors, and the input projection's is He's: the scaled std is 0.5 to 0.71 of He's,
    tens of standard errors away."""
    width, E = 40, 6
    net = Network(_dims(3, width, 2, blocks, m), init="fixup", seed=seed, ensemble=E, residual=m)
    lay = net.layout
    inner = [r.layer for r in lay.roles() if r.kind == "branch" and r.j < m]
    sample = np.concatenate([net.params[f"W{l}"].ravel() for l in inner])
    _std_within(sample, np.sqrt(2 / width) * blocks ** (-1 / (2 * m - 2)))
    _std_within(net.params["W1"].ravel(), np.sqrt(2 / 3))


def test_fixup_with_one_layer_per_branch_is_zero_branches_and_readout():
    net = Network([3, 6, 6, 6, 2], init="fixup", seed=0, residual=1)
    assert all(np.all(net.params[f"W{l}"] == 0) for l in (2, 3, 4))
    assert net.params["W1"].std() > 0


# ---------------------------------------------------------------------------- ReZero
@settings(max_examples=40, deadline=None)
@given(
    recipe=st.sampled_from(["rezero", "skipinit", "rezero:glorot_uniform"]),
    hidden=st.sampled_from(["relu", "tanh"]),
    **CASES,
)
def test_rezero_network_at_init_is_input_projection_then_readout(
    recipe, hidden, m, blocks, width, n_x, n_y, gate, norm, seed
):
    """Every gate is 0, so the output is the [n_x, d, n_y] network of W1, b1 and the readout:
    the plain network without a norm, the residual network of no blocks with one. Weights are the
    base's draws in the plain order (replayed)."""
    dims = _dims(n_x, width, n_y, blocks, m)
    net = Network(dims, hidden=hidden, output="identity", init=recipe, seed=seed, residual=m, gate=gate, norm=norm)
    p, L = net.params, net.layout.L
    assert net.layout.gate  # rezero turns gates on without gate=
    assert all(p[f"gate{b}"].item() == 0.0 for b in range(1, blocks + 1))
    small = {"W1": p["W1"], "b1": p["b1"], "W2": p[f"W{L}"], "b2": p[f"b{L}"]}
    if norm:
        k = blocks + 1  # the readout's read of the stream
        small |= {"norm_gain1": p[f"norm_gain{k}"], "norm_bias1": p[f"norm_bias{k}"]}
        two = Network([n_x, width, n_y], hidden=hidden, output="identity", params=small, residual=m, norm=norm)
    else:
        two = Network([n_x, width, n_y], hidden=hidden, output="identity", params=small)
    X = np.random.default_rng(seed + 1).standard_normal((n_x, 7))
    np.testing.assert_array_equal(net.forward(X)[0], two.forward(X)[0])
    base = initializers.parse_spec(recipe).values[0]
    rng = np.random.default_rng(seed)
    for l in range(1, L + 1):
        fan_in, fan_out = dims[l - 1], dims[l]
        if base == "he":
            expected = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2 / fan_in)
        else:  # glorot_uniform
            b = np.sqrt(6 / (fan_in + fan_out))
            expected = rng.uniform(-b, b, (fan_out, fan_in))
        # a bound written sqrt(6/(fi+fo)) here, sqrt(3)*sqrt(1/fan_avg) there: 1 ulp of the bound apart
        np.testing.assert_allclose(p[f"W{l}"], expected, rtol=1e-13, atol=1e-15)


def test_a_gate_value_overrides_the_recipes_start_and_a_gateless_layout_is_refused():
    net = Network([2, 4, 4, 1], init="rezero", seed=0, residual=1, gate=0.25)
    assert net.params["gate1"].item() == 0.25
    with pytest.raises(InitlabError, match="no gates.*gate=True"):
        residual_initialize(Layout.build([2, 4, 4, 1], 1), "rezero", "zeros", np.random.default_rng(0))


# ------------------------------------------------------------------------------ ZerO
@settings(max_examples=40, deadline=None)
@given(hidden=st.sampled_from(sorted(BY_HAND)), **CASES)
def test_zero_is_identity_and_hadamard_and_the_output_follows(hidden, m, blocks, width, n_x, n_y, gate, norm, seed):
    """Each matrix is Algorithm 1's (scipy's Hadamard) or 0 for a branch's last layer, with at
    most 2 magnitudes (0 and one other); the same at every seed; and the output at init is
    ``W_L g(N(W_1 X))``: every block adds 0."""
    dims = _dims(n_x, width, n_y, blocks, m)
    kw = dict(hidden=hidden, output="identity", init="zero", residual=m, gate=gate, norm=norm)
    net = Network(dims, seed=seed, **kw)
    p, lay = net.params, net.layout
    for role in lay.roles():
        W = p[f"W{role.layer}"]
        assert len(set(np.abs(W).ravel()) - {0.0}) <= 1, role
        expected = np.zeros(W.shape) if role.last else _zero_matrix(*W.shape)
        np.testing.assert_allclose(W, expected, rtol=1e-15, atol=0, err_msg=str(role))
        assert np.all(p[f"b{role.layer}"] == 0)
    again = Network(dims, seed=seed + 1, **kw).params
    assert all(np.array_equal(again[k], v) for k, v in p.items())
    X = np.random.default_rng(seed).standard_normal((n_x, 5))
    S = _zero_matrix(width, n_x) @ X
    H = _layer_norm(S) if norm else S
    out = _zero_matrix(n_y, width) @ BY_HAND[hidden](H)
    np.testing.assert_allclose(net.forward(X)[0], out, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(dims=st.lists(st.integers(1, 20), min_size=2, max_size=5))
def test_zero_on_a_plain_network_is_algorithm_1_on_every_layer(dims):
    net = Network(dims, hidden="relu", output="identity", init="zero")
    X = np.random.default_rng(0).standard_normal((dims[0], 4))
    A = X
    for l in range(1, len(dims)):
        W = net.params[f"W{l}"]
        np.testing.assert_allclose(W, _zero_matrix(dims[l], dims[l - 1]), rtol=1e-15, atol=0)
        assert len(set(np.abs(W).ravel()) - {0.0}) <= 1
        A = W @ A if l == len(dims) - 1 else np.maximum(W @ A, 0)
    np.testing.assert_allclose(net.forward(X)[0], A, rtol=1e-12, atol=1e-12)


def test_zero_hadamard_block_scale_is_the_papers():
    W = initializers.zero_matrix(5, 3)  # m = ceil(log2 5) = 3, c = 2^-1
    assert set(np.abs(W).ravel()) == {0.5}
    assert np.array_equal(W, 0.5 * scipy.linalg.hadamard(8)[:5, :3])
    assert np.array_equal(initializers.zero_matrix(3, 5), np.eye(3, 5))
    assert initializers.get("zero").theory((5, 3))["value"] == 0.5


# ------------------------------------------------------------------------------ GPT-2
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("m, blocks", [(1, 4), (2, 3), (3, 2)])
def test_gpt2_stds_over_an_ensemble(m, blocks, seed):
    """N(0, 0.02^2) everywhere but each branch's last layer, N(0, 0.02^2 / blocks); biases 0."""
    net = Network(_dims(30, 30, 30, blocks, m), init="gpt2", seed=seed, ensemble=5, residual=m)
    roles = net.layout.roles()
    last = np.concatenate([net.params[f"W{r.layer}"].ravel() for r in roles if r.last])
    rest = np.concatenate([net.params[f"W{r.layer}"].ravel() for r in roles if not r.last])
    _std_within(last, 0.02 / np.sqrt(blocks))
    _std_within(rest, 0.02)
    assert all(np.all(net.params[f"b{r.layer}"] == 0) for r in roles)


@pytest.mark.parametrize("seed", SEEDS)
def test_gpt2_on_a_plain_network_is_normal_002_everywhere(seed):
    net = Network([40, 40, 40, 40], init="gpt2", seed=seed, ensemble=4)
    _std_within(np.concatenate([net.params[f"W{l}"].ravel() for l in (1, 2, 3)]), 0.02)


# ---------------------------------------------------------------------------- T-Fixup
@settings(max_examples=25, deadline=None)
@given(
    blocks=st.integers(0, 4), width=st.integers(1, 7), gate=st.sampled_from([None, True]), seed=st.integers(0, 2**16)
)
def test_t_fixup_scales_both_branch_layers_of_xavier_uniform(blocks, width, gate, seed):
    dims = _dims(3, width, 2, blocks, 2)
    p = Network(dims, init="t_fixup", seed=seed, residual=2, gate=gate).params
    rng = np.random.default_rng(seed)
    for l in range(1, len(dims)):
        fan_in, fan_out = dims[l - 1], dims[l]
        b = np.sqrt(6 / (fan_in + fan_out))
        expected = rng.uniform(-b, b, (fan_out, fan_in))
        if 1 < l < len(dims) - 1:
            expected = expected * 0.67 * blocks**-0.25
        np.testing.assert_allclose(p[f"W{l}"], expected, rtol=1e-13, atol=1e-15)  # the bound, to 1 ulp


@pytest.mark.parametrize("m", [1, 3])
def test_t_fixup_refuses_branches_that_are_not_two_layers(m):
    with pytest.raises(InitlabError, match=rf"t_fixup.*branch of {m} weight layer.*residual=2"):
        Network(_dims(2, 4, 1, 2, m), init="t_fixup", residual=m)


# ------------------------------------------------------------------ plain networks
@pytest.mark.parametrize("name", ["fixup", "rezero", "skipinit", "t_fixup"])
def test_a_recipe_without_a_plain_form_says_what_to_pass(name):
    for call in (
        lambda: Network([2, 4, 1], init=name),
        lambda: initializers.initialize_parameters_deep([2, 4, 1], init=name, seed=0),
    ):
        with pytest.raises(InitlabError) as e:
            call()
        assert name in str(e.value) and "residual=m" in str(e.value) and "--residual M" in str(e.value)


# ------------------------------------------------------------------------- ensembles
@settings(max_examples=25, deadline=None)
@given(
    recipe=st.sampled_from(RECIPES),
    m=st.integers(1, 3),
    blocks=st.integers(1, 3),
    gate=st.sampled_from([None, True]),
    norm=st.sampled_from([None, "layernorm"]),
    E=st.sampled_from([2, 3]),
    seed=st.integers(0, 2**16),
)
def test_a_recipe_ensemble_member_is_the_network_alone_bit_for_bit(recipe, m, blocks, gate, norm, E, seed):
    """Member k of an ensemble drawn with seeds [s_0, ...] starts as Network(seed=s_k) and trains
    to the same bits as its copy trained alone."""
    m = 2 if recipe == "t_fixup" else m
    rng = np.random.default_rng(seed)
    dims = _dims(2, 5, 1, blocks, m)
    seeds = [seed + i for i in range(E)]
    kw = dict(hidden="tanh", init=recipe, residual=m, gate=gate, norm=norm)
    ens = Network(dims, seed=seeds, **kw)
    k = int(rng.integers(0, E))
    one = Network(dims, seed=seeds[k], **kw)
    for key, v in one.params.items():
        np.testing.assert_array_equal(ens.params[key][k], v, err_msg=key)
    alone = ens.member(k)
    X = rng.standard_normal((2, 9))
    Y = (rng.random((1, 9)) < 0.5).astype(float)
    ens.fit(X, Y, lr=0.1, iterations=5)
    alone.fit(X, Y, lr=0.1, iterations=5)
    for key, v in alone.params.items():
        np.testing.assert_array_equal(ens.params[key][k], v, err_msg=key)


# ------------------------------------------------------------------ delta-orthogonal
@settings(max_examples=40, deadline=None)
@given(
    out=st.integers(1, 9),
    cin=st.integers(1, 9),
    kernel=st.lists(st.integers(1, 5), min_size=0, max_size=3),
    gain=st.sampled_from(["1", "relu", "0.5"]),
    seed=st.integers(0, 2**16),
)
def test_delta_orthogonal_is_orthogonal_at_the_centre_and_zero_elsewhere(out, cin, kernel, gain, seed):
    sampler = initializers.get(f"delta_orthogonal:{gain}")
    g = sampler.gain
    shape = (out, cin, *kernel)
    W = sampler(shape, np.random.default_rng(seed))
    centre = (slice(None), slice(None), *(k // 2 for k in kernel))
    Q = W[centre]
    rest = W.copy()
    rest[centre] = 0
    assert W.shape == shape and np.all(rest == 0)
    if out >= cin:
        np.testing.assert_allclose(Q.T @ Q, g**2 * np.eye(cin), atol=1e-12)
    else:
        np.testing.assert_allclose(Q @ Q.T, g**2 * np.eye(out), atol=1e-12)
    assert sampler.theory(shape)["std"] == pytest.approx(np.sqrt(np.mean(W**2)), rel=1e-12)
    if not kernel:  # a 2-D weight is plain orthogonal, draw for draw
        other = initializers.get(f"orthogonal:{gain}")((out, cin), np.random.default_rng(seed))
        np.testing.assert_array_equal(W, other)


def test_delta_orthogonal_refuses_a_shape_that_is_not_a_weight():
    for bad in [(3,), (3, 0, 3), (2, 2, -1)]:
        with pytest.raises(InitlabError, match="shape"):
            initializers.get("delta_orthogonal")(bad, np.random.default_rng(0))
