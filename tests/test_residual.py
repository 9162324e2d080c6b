"""Residual MLPs (`initlab.nn.residual`): the gradient, the laws of plain networks, and what a
block is, on generated cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from initlab import InitlabError
from initlab.nn import HIDDEN
from initlab.nn.network import Network, gradient_check
from initlab.nn.residual import Layout

OUTPUTS = [("sigmoid", 1), ("softmax", 3), ("identity", 2)]
SMOOTH = [h for h in HIDDEN if h not in ("relu", "leaky_relu")]  # finite differences need a derivative


def _data(rng, n_x, n_y, m, output):
    X = rng.standard_normal((n_x, m))
    if output == "sigmoid":
        Y = (rng.random((1, m)) < 0.5).astype(float)
    elif output == "softmax":
        Y = np.eye(n_y)[:, rng.integers(0, n_y, m)]
    else:
        Y = rng.standard_normal((n_y, m))
    return X, Y


def _generic(net, rng):
    """Move gates, norms and biases off their starting values, so every term of the gradient counts."""
    for k, v in net.params.items():
        if k.startswith(("gate", "norm_", "b")):
            net.params[k] = v + 0.3 * rng.standard_normal(v.shape)


@settings(max_examples=30, deadline=None)
@given(
    m=st.integers(1, 3),
    blocks=st.integers(0, 3),
    gate=st.sampled_from([None, True, 0.5]),
    norm=st.sampled_from([None, "layernorm"]),
    hidden=st.sampled_from(SMOOTH),
    out=st.sampled_from(OUTPUTS),
    width=st.integers(1, 6),
    examples=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_backprop_matches_finite_differences(m, blocks, gate, norm, hidden, out, width, examples, seed):
    rng = np.random.default_rng(seed)
    output, n_y = out
    n_x = int(rng.integers(1, 4))
    dims = [n_x] + [width] * (1 + blocks * m) + [n_y]
    net = Network(dims, hidden=hidden, output=output, init="xavier", seed=seed, residual=m, gate=gate, norm=norm)
    _generic(net, rng)
    X, Y = _data(rng, n_x, n_y, examples, output)
    # layernorm over one unit has no gradient (xhat is 0): nothing to check against
    assert gradient_check(net, X, Y) < 2e-6


@settings(max_examples=20, deadline=None)
@given(
    m=st.integers(1, 3),
    blocks=st.integers(1, 3),
    gate=st.sampled_from([None, True]),
    norm=st.sampled_from([None, "layernorm"]),
    hidden=st.sampled_from(HIDDEN),
    E=st.sampled_from([2, 3, 7]),
    examples=st.integers(1, 20),
    fortran=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_an_ensemble_member_trains_to_the_bits_it_trains_to_alone(
    m, blocks, gate, norm, hidden, E, examples, fortran, seed
):
    rng = np.random.default_rng(seed)
    dims = [2] + [5] * (1 + blocks * m) + [1]
    kw = dict(hidden=hidden, residual=m, gate=gate, norm=norm)
    ens = Network(dims, init="he", seed=seed, ensemble=E, **kw)
    _generic(ens, rng)
    k = int(rng.integers(0, E))
    alone = ens.member(k)
    X, Y = _data(rng, 2, 1, examples, "sigmoid")
    if fortran:
        X, Y = np.asfortranarray(X), np.asfortranarray(Y)
    ens.fit(X, Y, lr=0.1, iterations=7)
    alone.fit(X, Y, lr=0.1, iterations=7)
    for key, v in alone.params.items():
        np.testing.assert_array_equal(ens.params[key][k], v, err_msg=key)


@settings(max_examples=20, deadline=None)
@given(
    m=st.integers(1, 3),
    blocks=st.integers(1, 3),
    gate=st.sampled_from([None, True]),
    norm=st.sampled_from([None, "layernorm"]),
    hidden=st.sampled_from(HIDDEN),
    width=st.integers(2, 9),
    examples=st.integers(1, 20),
    seed=st.integers(0, 2**16),
)
def test_stream_units_made_equal_stay_bit_identical(m, blocks, gate, norm, hidden, width, examples, seed):
    """Copy stream unit 0 onto unit 1 everywhere it is written or read: the two stay equal
    through training, and `symmetry` reports them as one group in every stream layer."""
    from initlab.diagnose.symmetry import symmetry

    rng = np.random.default_rng(seed)
    dims = [2] + [width] * (1 + blocks * m) + [1]
    net = Network(dims, hidden=hidden, init="xavier", seed=seed, residual=m, gate=gate, norm=norm)
    _generic(net, rng)
    lay = net.layout
    p = net.params
    for l in [1] + [1 + b * m for b in range(1, blocks + 1)]:  # rows that write the stream
        p[f"W{l}"][1] = p[f"W{l}"][0]
        p[f"b{l}"][1] = p[f"b{l}"][0]
    for l in [2 + b * m for b in range(blocks)] + [lay.L]:  # columns that read it
        p[f"W{l}"][:, 1] = p[f"W{l}"][:, 0]
    for k in p:
        if k.startswith("norm_"):
            p[k][1] = p[k][0]
    X, Y = _data(rng, 2, 1, examples, "sigmoid")
    net.fit(X, Y, lr=0.05, iterations=5)
    assert np.isfinite(net.cost(X, Y))
    _, cache = net.forward(X)
    for l in lay.stream_layers():
        np.testing.assert_array_equal(cache[l - 1][1][0], cache[l - 1][1][1])
    rep = symmetry(net)
    for layer in rep.layers:
        if layer.layer in lay.stream_layers():
            assert [0, 1] in layer.groups


@pytest.mark.parametrize("norm", [None, "layernorm"])
def test_no_blocks_is_the_plain_network(norm):
    """B = 0: the input projection and the readout, the plain [n_x, d, n_y] network (without a
    norm: a norm would make it another function)."""
    rng = np.random.default_rng(1)
    X, Y = _data(rng, 3, 1, 11, "sigmoid")
    plain = Network([3, 6, 1], hidden="tanh", init="he", seed=4)
    res = Network([3, 6, 1], hidden="tanh", init="he", seed=4, residual=2, norm=norm)
    assert res.layout.blocks == 0
    if norm is None:
        for k, v in plain.params.items():
            np.testing.assert_array_equal(res.params[k], v)
        np.testing.assert_array_equal(plain.forward(X)[0], res.forward(X)[0])


@pytest.mark.parametrize("m", [1, 2, 3])
def test_zero_gates_compute_the_projection_and_readout(m):
    """Every gate 0 (ReZero at init): the network is layer 1 then layer L, whatever the branches."""
    rng = np.random.default_rng(m)
    X, _ = _data(rng, 2, 1, 9, "sigmoid")
    net = Network([2] + [7] * (1 + 3 * m) + [1], hidden="relu", init="he", seed=m, residual=m, gate=0.0)
    short = Network(
        [2, 7, 1],
        hidden="relu",
        params={k: net.params[k] for k in ("W1", "b1")}
        | {"W2": net.params[f"W{net.layout.L}"], "b2": net.params[f"b{net.layout.L}"]},
    )
    np.testing.assert_array_equal(net.forward(X)[0], short.forward(X)[0])


def test_a_relu_he_block_doubles_the_stream_on_average():
    """Pre-activation form: with He weights each block adds a branch of the stream's own second
    moment, so mean(S[b]^2) / mean(S[b-1]^2) is about 2 (ensemble mean within 5 standard errors)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 64))
    net = Network([10] + [256] * 5 + [1], hidden="relu", init="he", seed=0, residual=2, ensemble=16)
    _, cache = net.forward(X)
    q = [np.mean(S**2, axis=(-2, -1)) for S in cache.streams]
    ratios = np.array([q[b] / q[b - 1] for b in range(1, len(q))]).ravel()
    assert abs(ratios.mean() - 2.0) < 5 * ratios.std(ddof=1) / np.sqrt(ratios.size) + 0.02


def test_layout_errors_name_the_problem():
    with pytest.raises(InitlabError, match="one width"):
        Network([2, 4, 5, 4, 1], residual=1)
    with pytest.raises(InitlabError, match=r"1 \+ 2 \* blocks"):
        Network([2, 4, 4, 1], residual=2)
    with pytest.raises(InitlabError, match="residual"):
        Network([2, 4, 4, 1], gate=True)
    with pytest.raises(InitlabError, match="norm must be"):
        Network([2, 4, 4, 1], residual=1, norm="batchnorm")
    with pytest.raises(InitlabError, match="positive integer"):
        Network([2, 4, 4, 1], residual=0)
    with pytest.raises(InitlabError, match="gate1"):
        Network.from_params(Network([2, 4, 4, 1], residual=1, gate=True).params, gate=False)  # refused gates
    assert Layout.of_blocks(2, 8, 1, blocks=3, m=2).dims == (2, 8, 8, 8, 8, 8, 8, 8, 1)


def test_fast_engine_refuses_and_auto_trains_on_numpy():
    net = Network([2, 4, 4, 1], residual=1, init="he", seed=0)
    X, Y = _data(np.random.default_rng(0), 2, 1, 5, "sigmoid")
    with pytest.raises(InitlabError, match="residual"):
        net.fit(X, Y, lr=0.1, iterations=2, engine="fast")
    h = net.fit(X, Y, lr=0.1, iterations=3, track=("symmetry", "saturation"))
    assert h.costs.shape == (4,)


def test_compare_trains_residual_networks_as_each_alone_and_refuses_mixed_gates():
    """compare --residual: one ensemble of one kind of network; rezero beside ungated inits is
    refused with what to do; with --gate every member is the network trained alone."""
    from initlab.data import load
    from initlab.experiments.compare import CompareConfig, compare

    kw = dict(layers=(2, 6, 6, 6, 1), residual=1, norm="layernorm", iterations=30, seeds=(0,), lr=0.05)
    with pytest.raises(InitlabError, match="--gate"):
        CompareConfig(inits=("he", "rezero"), **kw)
    result = compare(CompareConfig(inits=("he", "rezero"), gate=True, **kw))
    ds = load("circles")
    for run in result.runs:
        alone = Network(
            [2, 6, 6, 6, 1], hidden="relu", init=run.config.init, seed=0, residual=1, gate=True, norm="layernorm"
        )
        alone.fit(ds.X_train, ds.Y_train, lr=0.05, iterations=30)
        assert run.final_cost == alone.cost(ds.X_train, ds.Y_train)
    assert CompareConfig().hash() == CompareConfig(residual=None).hash()


@pytest.mark.parametrize(
    "m, blocks, gate, norm", [(1, 3, True, None), (2, 2, None, "layernorm"), (3, 1, 0.5, "layernorm")]
)
def test_from_params_reads_a_residual_network_from_its_parameters(m, blocks, gate, norm):
    """Gates and norms name the network they belong to (a trial had from_params refuse them)."""
    net = Network(
        [2] + [5] * (1 + m * blocks) + [1], hidden="tanh", init="he", seed=0, residual=m, gate=gate, norm=norm
    )
    back = Network.from_params(net.params, hidden="tanh")
    assert back.layout == net.layout
    X = np.random.default_rng(0).standard_normal((2, 6))
    np.testing.assert_array_equal(back.forward(X)[0], net.forward(X)[0])


def test_the_compare_report_names_the_residual_layout(tmp_path):
    """The report read as a plain MLP's (trial): its heading names the blocks, gates and norm."""
    from initlab.experiments.compare import CompareConfig, compare
    from initlab.report.html import render

    cfg = CompareConfig(
        layers=(2, 6, 6, 6, 1), residual=1, gate=True, norm="layernorm", inits=("he",), iterations=5, seeds=(0,)
    )
    page = render(compare(cfg))
    assert "residual: 2 block(s) of 1 layer(s), width 6, gated, layernorm" in page


@pytest.mark.parametrize("norm", [None, "layernorm"])
def test_propagation_and_the_theorys_measurement_read_the_stream_alike(norm):
    """Two tools measure the stream's second moment: `propagation` at the stream's layers and
    `theory.stream_second_moments`; they agree exactly, member by member."""
    from initlab import propagation, theory

    net = Network([3] + [8] * 5 + [1], hidden="relu", init="he", seed=0, residual=2, ensemble=3, norm=norm)
    X = np.random.default_rng(0).standard_normal((3, 20))
    a = theory.stream_second_moments(net, X)
    r = propagation(net, X)
    b = np.array([[r.member(k).layers[l - 1].z_q for l in net.layout.stream_layers()] for k in range(3)])
    np.testing.assert_array_equal(a, b)
