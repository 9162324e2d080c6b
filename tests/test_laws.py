"""The laws initlab states, on cases a generator chose (Hypothesis), in every engine.

(a) Units that start equal stay bit-identical: zero and constant inits keep effective width 1
    at every step, for every hidden activation and loss, any widths, example counts, ensemble
    sizes and memory layouts of X.
(b) A random network in which some units were made copies keeps exactly those copies, and
    `initlab.symmetry` finds exactly those groups (while training stays finite: units that
    overflow to the same inf or nan merge, as they should).
(c) Permuting hidden units permutes the trained parameters, bit for bit.
(d) A member of an ensemble trains to the same bits as the same network alone, on a given
    engine and with the default engine choice (which looks at the network's shape only).

Engines: "reference" (NumPy with `initlab.nn.products`) and "unrolled" (the compiled kernel
generated for the shape; fixed shape [2, 10, 5, 1], whose kernels tests/test_fast.py compiles,
so this file adds no compile time).
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import initlab
from initlab.nn import HIDDEN

OUTPUTS = [("sigmoid", "binary_cross_entropy", 1), ("softmax", "cross_entropy", 3), ("identity", "mse", 2)]
UNROLLED_DIMS = [2, 10, 5, 1]


@st.composite
def cases(draw, engine=None):
    """A network, its data and how to train it."""
    engine = engine or draw(st.sampled_from(["reference", "unrolled"]))
    hidden = draw(st.sampled_from(HIDDEN))
    if engine == "unrolled":
        dims, (output, loss, _) = list(UNROLLED_DIMS), OUTPUTS[0]
    elif engine == "rolled":  # too wide for the kernel: engine="auto" takes the NumPy path
        output, loss, n_y = draw(st.sampled_from(OUTPUTS))
        widths = draw(st.lists(st.integers(70, 90), min_size=2, max_size=3))
        dims = [draw(st.integers(1, 4)), *widths, n_y]
    else:
        output, loss, n_y = draw(st.sampled_from(OUTPUTS))
        n_x = draw(st.integers(1, 4))
        widths = draw(st.lists(st.integers(1, 70), min_size=1, max_size=4))
        dims = [n_x, *widths, n_y]
    ensemble = draw(st.sampled_from([None, 1, 3, 40]))
    m = draw(st.integers(1, 45))
    fortran = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dims[0], m))
    if loss == "binary_cross_entropy":
        Y = (rng.random((1, m)) < 0.5).astype(float)
    elif loss == "cross_entropy":
        Y = np.eye(dims[-1])[:, rng.integers(0, dims[-1], m)]
    else:
        Y = rng.standard_normal((dims[-1], m))
    if fortran:
        X, Y = np.asfortranarray(X), np.asfortranarray(Y)
    return dict(
        engine=engine,
        dims=dims,
        hidden=hidden,
        output=output,
        loss=loss,
        ensemble=ensemble,
        X=X,
        Y=Y,
        seed=seed,
        steps=draw(st.integers(1, 12)),
    )


def make(case, **kw):
    return initlab.Network(
        case["dims"], hidden=case["hidden"], output=case["output"], loss=case["loss"], ensemble=case["ensemble"], **kw
    )


def train(net, case, **kw):
    """``fit`` on the case's engine."""
    return net.fit(
        case["X"],
        case["Y"],
        lr=0.05,
        iterations=case["steps"],
        engine="reference" if case["engine"] == "reference" else "fast",
        **kw,
    )


def bits(a):
    """The bit patterns of a float64 array (-0.0 is not 0.0), every NaN as one NaN: a diverged
    network's NaN carries no value, and its sign bit is whatever the operation that made it left
    (inf - inf gives the x86 "indefinite", negative NaN; NumPy's vector and scalar loops can
    propagate another), which no law of initlab's is about."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    return np.where(np.isnan(a), np.nan, a).view(np.int64)


def hidden_keys(dims):
    return range(1, len(dims) - 1)


@settings(max_examples=40)
@given(case=cases(), init=st.sampled_from(["zeros", "constant:0.3", "constant:-0.7", "constant:0.01"]))
def test_equal_units_stay_bit_identical_at_every_step(case, init):
    net = make(case, init=init, seed=case["seed"])
    h = train(net, case, track=("symmetry",), track_every=1)
    for l in hidden_keys(case["dims"]):
        W, b, W_next = (bits(net.params[k]) for k in (f"W{l}", f"b{l}", f"W{l + 1}"))
        assert (W == W[..., :1, :]).all() and (b == b[..., :1, :]).all()
        assert (W_next == W_next[..., :, :1]).all()
    widths = np.asarray(h.tracked.effective_width)  # (steps + 1, [E,] L - 1)
    assert widths.shape[0] == case["steps"] + 1
    assert (widths == 1).all()


def plant_copies(params, dims, rng):
    """Make some units of each hidden layer copies of others; returns the groups per layer
    (member by member) that `symmetry` must find."""
    E = params["W1"].shape[0] if params["W1"].ndim == 3 else None
    expected = {}
    for l in hidden_keys(dims):
        n = dims[l]
        members = range(E) if E else [None]
        for e in members:
            rep = np.arange(n)
            for j in range(1, n):
                if rng.random() < 0.4:
                    rep[j] = rep[rng.integers(0, j)]  # a copy of an earlier unit (or of its original)
            idx = (e,) if E else ()
            for j in range(n):
                params[f"W{l}"][idx + (j,)] = params[f"W{l}"][idx + (rep[j],)]
                params[f"b{l}"][idx + (j,)] = params[f"b{l}"][idx + (rep[j],)]
                params[f"W{l + 1}"][idx + (slice(None), j)] = params[f"W{l + 1}"][idx + (slice(None), rep[j])]
            expected[(l, e)] = sorted(sorted(np.flatnonzero(rep == r).tolist()) for r in np.unique(rep))
    return expected


@settings(max_examples=40)
@given(case=cases(), init=st.sampled_from(["he", "xavier", "random:0.5"]))
def test_copied_units_stay_copies_and_symmetry_finds_exactly_them(case, init):
    net = make(case, init=init, seed=case["seed"])
    expected = plant_copies(net.params, case["dims"], np.random.default_rng(case["seed"]))
    train(net, case)
    # distinct units can only merge where training overflowed (inf and nan are shared values)
    assume(all(np.isfinite(v).all() for v in net.params.values()))
    report = initlab.symmetry(net.params)
    for (l, e), groups in expected.items():
        found = (report if e is None else report.member(e)).layers[l - 1].groups
        assert sorted(sorted(g) for g in found) == groups, (l, e)


def permuted(params, perms):
    out = {k: v.copy() for k, v in params.items()}
    for l, p in enumerate(perms, start=1):
        out[f"W{l}"] = out[f"W{l}"][..., p, :]
        out[f"b{l}"] = out[f"b{l}"][..., p, :]
        out[f"W{l + 1}"] = out[f"W{l + 1}"][..., p]
    return out


@settings(max_examples=40)
@given(case=cases(), init=st.sampled_from(["he", "xavier", "random:0.5"]))
def test_permuting_hidden_units_permutes_the_trained_parameters(case, init):
    rng = np.random.default_rng(case["seed"])
    perms = [rng.permutation(n) for n in case["dims"][1:-1]]
    a = make(case, init=init, seed=case["seed"])
    b = make(case, params=permuted(a.params, perms))
    ha, hb = train(a, case), train(b, case)
    want = permuted(a.params, perms)
    for key in want:
        assert np.array_equal(bits(want[key]), bits(b.params[key])), key
    assert np.array_equal(bits(ha.costs), bits(hb.costs))


@settings(max_examples=25)
@given(case=cases(), init=st.sampled_from(["he", "zeros", "random:0.5"]))
def test_an_ensemble_member_trains_to_the_bits_it_gets_alone(case, init):
    case = {**case, "ensemble": 40 if case["ensemble"] in (None, 1) else case["ensemble"]}
    many = make(case, init=init, seed=case["seed"])
    k = case["seed"] % case["ensemble"]
    one = many.member(k)
    train(many, case)
    train(one, {**case, "ensemble": None})
    for key, value in one.params.items():
        assert np.array_equal(bits(value), bits(many.params[key][k])), key


@settings(max_examples=20)
@given(
    case=st.one_of(cases(engine="rolled"), cases(engine="unrolled")),
    init=st.sampled_from(["he", "zeros", "random:0.5"]),
    ensemble=st.sampled_from([2, 40, 64]),
)
def test_the_default_engine_gives_a_member_the_bits_it_gets_alone(case, init, ensemble):
    """engine="auto" alone and in an ensemble of any size (issue 17.9: it used to switch to the
    compiled engine at 32 networks, so the same network ended 1e-14 apart). Shapes the kernel
    unrolls are the fixed one (a generated small shape would compile a kernel of its own,
    seconds each); generated shapes are too wide to unroll, so auto takes the NumPy path."""
    from initlab.nn import fast

    if case["engine"] == "rolled":
        assert not fast.pays(make(case))
    case = {**case, "ensemble": ensemble}
    many = make(case, init=init, seed=case["seed"])
    k = case["seed"] % ensemble
    one = many.member(k)
    kw = dict(lr=0.05, iterations=case["steps"])
    hm = many.fit(case["X"], case["Y"], **kw)
    h1 = one.fit(case["X"], case["Y"], **kw)
    for key, value in one.params.items():
        assert np.array_equal(bits(value), bits(many.params[key][k])), key
    assert np.array_equal(bits(h1.costs), bits(hm.costs[:, k]))


@settings(max_examples=20)
@given(case=cases(), init=st.sampled_from(["he", "random:0.5"]), every=st.integers(1, 5))
def test_tracking_changes_no_number(case, init, every):
    """Tracking adds measurements, never a different cost: the tracked path's costs come from
    the same definition as the untracked path's (the kernel's sum on the compiled engine), so
    `initlab compare` (tracked) and `initlab train` give one network the same final cost."""
    plain, tracked = (make(case, init=init, seed=case["seed"]) for _ in range(2))
    hp = train(plain, case)
    ht = train(tracked, case, track=("symmetry", "saturation"), track_every=every)
    assert hp.iterations.tolist() == ht.iterations.tolist()
    assert np.array_equal(bits(hp.costs), bits(ht.costs))
    for key in plain.params:
        assert np.array_equal(bits(plain.params[key]), bits(tracked.params[key])), key


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
def test_the_issue_case_constant_init_on_flower_stays_one_unit(hidden):
    """The case that broke (issue 16): 2-7-3-1 from constant:0.3 on 397 flower examples,
    C- and Fortran-ordered, NumPy path: the rows of W1 split by 2e-16 and grew."""
    ds = initlab.data.load("flower")
    X, Y = ds.X_train[:, :397], ds.Y_train[:, :397]
    for layout in (X, np.asfortranarray(X)):
        net = initlab.Network([2, 7, 3, 1], hidden=hidden, init="constant:0.3")
        h = net.fit(layout, Y, lr=1.2, iterations=300, track=("symmetry",), engine="reference")
        assert np.ptp(net.params["W1"], axis=0).max() == 0.0
        assert initlab.symmetry(net.params).effective_widths == [1, 1]
        assert h.symmetric_every_step
