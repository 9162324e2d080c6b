"""The registry: every entry's distribution against its formula, the course's functions, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import initlab
from initlab import initializers
from initlab.errors import InitlabError
from initlab.initializers import TRUNCATED_NORMAL_STD

from .conftest import SEEDS

# One spec per registry name (those that need an argument get one): a new entry is a new row.
SPECS = {name: name for name in initializers.names()}
SPECS["constant"] = "constant:0.5"
SPECS["sparse"] = "sparse:0.1"
SPECS["critical"] = "critical:tanh"
#: Entries whose samples follow a distribution scipy has exactly (the KS test's table).
KS_DISTRIBUTIONS = ("normal", "uniform", "truncated_normal")


def test_every_registry_name_has_a_spec_row():
    assert set(SPECS) == set(initializers.names())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(SPECS))
def test_sample_matches_formula(name, seed):
    """On a 1000x1000 sample the std (normal) or bound (uniform) is the formula's within 2%."""
    sampler = initializers.get(SPECS[name])
    shape = (1000, 1000)
    theory = sampler.theory(shape)
    W = sampler(shape, np.random.default_rng(seed))
    assert W.shape == shape
    if theory["distribution"] == "constant":
        assert np.all(W == theory["value"])
        return
    if theory["distribution"] == "identity":
        assert np.array_equal(W, theory["gain"] * np.eye(*shape))
        return
    if theory["distribution"] == "zero":  # ZerO on a square weight: the identity (tests/test_recipes.py)
        assert np.array_equal(W, np.eye(*shape)) and theory["std"] == pytest.approx(np.sqrt(np.mean(W**2)))
        return
    assert abs(W.mean()) < 5 * theory["std"] / 1000  # 5 standard errors of the mean
    assert W.std() == pytest.approx(theory["std"], rel=0.02)
    if theory["distribution"] == "uniform":
        assert np.abs(W).max() <= theory["bound"]
        assert np.abs(W).max() == pytest.approx(theory["bound"], rel=0.02)
    if theory["distribution"] == "truncated_normal":
        # never past 2 of the underlying normal's std
        assert np.abs(W).max() < theory["bound"]
        assert theory["bound"] == pytest.approx(2 * theory["std"] / TRUNCATED_NORMAL_STD)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "name", [n for n in SPECS if initializers.get(SPECS[n]).theory((4, 3))["distribution"] in KS_DISTRIBUTIONS]
)
def test_distribution_shape_ks(name, seed):
    """Kolmogorov-Smirnov against the exact distribution (the way torch's tests check init)."""
    sampler = initializers.get(SPECS[name])
    shape = (200, 150)
    t = sampler.theory(shape)
    W = sampler(shape, np.random.default_rng(seed)).ravel()
    if t["distribution"] == "normal":
        dist = stats.norm(scale=t["std"])
    elif t["distribution"] == "uniform":
        dist = stats.uniform(loc=-t["bound"], scale=2 * t["bound"])
    else:
        dist = stats.truncnorm(-2, 2, scale=t["std"] / TRUNCATED_NORMAL_STD)
    assert stats.kstest(W, dist.cdf).pvalue > 1e-3


def test_truncated_constant_is_the_truncated_std():
    assert stats.truncnorm(-2, 2).std() == pytest.approx(TRUNCATED_NORMAL_STD, abs=1e-15)


@pytest.mark.parametrize(
    "spec, std",
    [
        ("xavier", np.sqrt(1 / 40)),
        ("he", np.sqrt(2 / 40)),
        ("he_normal", np.sqrt(2 / 40)),
        ("lecun_normal", np.sqrt(1 / 40)),
        ("glorot_normal", np.sqrt(2 / (40 + 30))),
        ("random", 0.01),
        ("random:3", 3.0),
        ("glorot_uniform", np.sqrt(6 / 70) / np.sqrt(3)),
        ("he_uniform", np.sqrt(6 / 40) / np.sqrt(3)),
        ("pytorch_default", 1 / np.sqrt(40) / np.sqrt(3)),
        ("variance_scaling:2,fan_out,normal", np.sqrt(2 / 30)),
    ],
)
def test_formula_std_exact(spec, std):
    """The stated std for W of shape (fan_out=30, fan_in=40), from the papers' formulas."""
    assert initializers.get(spec).theory((30, 40))["std"] == pytest.approx(std, rel=1e-12)


def test_fans_come_from_last_two_axes_leading_axes_are_batch():
    sampler = initializers.get("he")
    W = sampler((8, 300, 200), np.random.default_rng(0))
    assert W.shape == (8, 300, 200)
    assert W.std() == pytest.approx(np.sqrt(2 / 200), rel=0.02)
    assert initializers.fans((8, 300, 200)) == (200, 300)


def test_course_forms_draw_randn_times_scale_exactly():
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    W = initializers.get("he")((4, 3), rng_a)
    assert np.array_equal(W, rng_b.standard_normal((4, 3)) * np.sqrt(2 / 3))


# ------------------------------------------------------------------ the course's functions
def test_initialize_parameters_shapes_std_biases_seed():
    p = initlab.initialize_parameters(3, 4, 1, seed=0)
    assert [p[k].shape for k in ("W1", "b1", "W2", "b2")] == [(4, 3), (4, 1), (1, 4), (1, 1)]
    assert np.all(p["b1"] == 0) and np.all(p["b2"] == 0)
    big = initlab.initialize_parameters(1000, 1000, 1, seed=1)
    assert big["W1"].std() == pytest.approx(0.01, rel=0.05)
    again = initlab.initialize_parameters(3, 4, 1, seed=0)
    assert all(np.array_equal(p[k], again[k]) for k in p)
    other = initlab.initialize_parameters(3, 4, 1, seed=1)
    assert not np.array_equal(p["W1"], other["W1"])


def test_initialize_parameters_course_published_numbers():
    """np.random.seed(2) then initialize_parameters(2, 4, 1): the course's printed W1."""
    np.random.seed(2)
    p = initlab.initialize_parameters(2, 4, 1)
    np.testing.assert_allclose(p["W1"][0], [-0.00416758, -0.00056267], atol=5e-9)
    np.random.seed(2)
    expected_W1 = np.random.randn(4, 2) * 0.01
    expected_W2 = np.random.randn(1, 4) * 0.01
    np.random.seed(2)
    p = initlab.initialize_parameters(2, 4, 1)
    assert np.array_equal(p["W1"], expected_W1) and np.array_equal(p["W2"], expected_W2)


def test_initialize_parameters_deep_course_he():
    np.random.seed(3)
    p = initlab.initialize_parameters_deep([2, 4, 1], init="he")
    np.testing.assert_allclose(p["W1"][0], [1.78862847, 0.43650985], atol=5e-9)
    assert p["W2"].shape == (1, 4) and p["b2"].shape == (1, 1)


def test_initialize_parameters_deep_seed_and_generator_agree():
    a = initlab.initialize_parameters_deep([5, 7, 3, 1], init="glorot_uniform", seed=4)
    b = initlab.initialize_parameters_deep([5, 7, 3, 1], init="glorot_uniform", seed=np.random.default_rng(4))
    assert list(a) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_bias_is_settable():
    p = initlab.initialize_parameters_deep([3, 4, 1], init="he", bias="constant:0.1", seed=0)
    assert np.all(p["b1"] == 0.1)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "spec, words",
    [
        ("hee", ["unknown initializer 'hee'", "did you mean he"]),
        ("glorot", ["glorot_normal"]),
        ("random:-1", ["> 0", "-1"]),
        ("random:abc", ["number", "'abc'"]),
        ("constant", ["needs C", "constant:C"]),
        ("he:1", ["at most 0"]),
        ("variance_scaling:1,fan_side", ["fan_side", "fan_in"]),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, words):
    with pytest.raises(InitlabError) as e:
        initializers.get(spec)
    for w in words:
        assert w in str(e.value)


def test_bad_shapes_and_scales():
    with pytest.raises(InitlabError, match="at least 2 axes"):
        initializers.get("he")((5,), np.random.default_rng(0))
    with pytest.raises(InitlabError, match="positive integer"):
        initializers.get("he")((0, 3), np.random.default_rng(0))
    with pytest.raises(InitlabError, match="scale must be a finite number > 0"):
        initlab.initialize_parameters(2, 3, 1, scale=-0.5)
    with pytest.raises(InitlabError, match="layer 1 has width 0"):
        initlab.initialize_parameters_deep([2, 0, 1])


@given(
    name=st.sampled_from(list(SPECS)), seed=st.integers(0, 2**31), fan_out=st.integers(1, 20), fan_in=st.integers(1, 20)
)
def test_same_seed_same_numbers(name, seed, fan_out, fan_in):
    s = initializers.get(SPECS[name])
    a = s((fan_out, fan_in), np.random.default_rng(seed))
    b = s((fan_out, fan_in), np.random.default_rng(seed))
    assert a.shape == (fan_out, fan_in) and np.array_equal(a, b) and np.isfinite(a).all()


def test_scale_of_reads_a_specs_scale_or_its_default():
    from initlab.initializers import REGISTRY, scale_of

    assert [scale_of(s) for s in ("random", "random:10", "variance_scaling:2,fan_out", "he")] == [0.01, 10.0, 2.0, None]
    assert REGISTRY["random"].takes_scale and not REGISTRY["orthogonal"].takes_scale
    with pytest.raises(InitlabError, match="> 0"):
        scale_of("random:-1")


# ------------------------------------------------------------- one parser: with_scale, split
SCALED = [n for n, e in initializers.REGISTRY.items() if e.takes_scale]
UNSCALED = [SPECS[n] for n, e in initializers.REGISTRY.items() if not e.takes_scale]
NUMBER_FORMS = (repr, "{:g}".format, "{:e}".format, "{:.17g}".format)


@st.composite
def scaled_specs(draw) -> str:
    """A valid spec of an entry that takes a scale, with 0 to all of its arguments written."""
    entry = initializers.REGISTRY[draw(st.sampled_from(SCALED))]
    args = []
    for p in entry.params[: draw(st.integers(0, len(entry.params)))]:
        if p.options:
            args.append(draw(st.sampled_from(p.options)))
        else:  # a positive number (SCALE), written as people write numbers
            value = draw(st.floats(1e-6, 1e6))
            args.append(draw(st.sampled_from(NUMBER_FORMS))(value))
    return entry.name + (":" + ",".join(args) if args else "")


POSITIVE = st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False)


@given(spec=scaled_specs(), scale=POSITIVE, other=POSITIVE)
def test_with_scale_replaces_the_scale_and_keeps_every_other_argument(spec, scale, other):
    """Over every registry entry that takes a scale: the new spec has exactly that scale, the
    same values for every other argument (so the same mode and distribution), is canonical,
    and setting the old scale back gives the spec's own canonical form."""
    out = initializers.with_scale(spec, scale)
    before, after = initializers.parse_spec(spec), initializers.parse_spec(out)
    assert initializers.scale_of(out) == scale and after.entry is before.entry
    assert after.values[1:] == before.values[1:]
    assert initializers.canonical(out) == out
    assert initializers.with_scale(out, initializers.scale_of(spec)) == initializers.canonical(spec)
    assert initializers.with_scale(initializers.with_scale(spec, other), scale) == out
    t0, t1 = initializers.get(spec).theory((5, 3)), initializers.get(out).theory((5, 3))
    changed = {"std", "scale", "bound"}
    assert {k: v for k, v in t0.items() if k not in changed} == {k: v for k, v in t1.items() if k not in changed}


def test_with_scale_examples_and_refusals():
    assert initializers.with_scale("variance_scaling:2,fan_out", 0.5) == "variance_scaling:0.5,fan_out"
    assert initializers.with_scale(" Variance_Scaling:2 , fan_in , uniform", 3) == "variance_scaling:3,fan_in,uniform"
    assert initializers.with_scale("random", 10) == "random:10"
    assert initializers.with_scale("random:-1", 0.1) == "random:0.1"  # the old scale is replaced, not read
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InitlabError, match="SCALE"):
            initializers.with_scale("random", bad)
    with pytest.raises(InitlabError, match="MODE.*fan_side"):
        initializers.with_scale("variance_scaling:2,fan_side", 1.0)  # the other arguments are checked


@pytest.mark.parametrize("spec", UNSCALED)
def test_with_scale_refuses_a_spec_that_takes_none(spec):
    with pytest.raises(InitlabError) as e:
        initializers.with_scale(spec, 2.0)
    assert "takes no scale" in str(e.value) and all(n in str(e.value) for n in SCALED)


def test_split_specs_continues_a_spec_only_where_it_takes_another_argument():
    split = initializers.split_specs
    assert split("zeros, random:0.01,variance_scaling:2,fan_out,he") == [
        "zeros",
        "random:0.01",
        "variance_scaling:2,fan_out",
        "he",
    ]
    assert split("variance_scaling:1,fan_avg,uniform,variance_scaling:2,fan_side") == [
        "variance_scaling:1,fan_avg,uniform",
        "variance_scaling:2,fan_side",  # one spec, so its error names MODE, not 'unknown initializer'
    ]
    assert split("random:0.1,fan_out") == ["random:0.1", "fan_out"]  # random takes one argument
    assert split("variance_scaling,fan_out") == ["variance_scaling", "fan_out"]  # no colon, no arguments
    assert split("sparse:0.1,0.02,he,,") == ["sparse:0.1,0.02", "he"]
    assert split("") == []


@given(specs=st.lists(st.one_of(scaled_specs(), st.sampled_from(list(SPECS.values()))), max_size=5))
def test_split_specs_undoes_a_comma_join(specs):
    assert initializers.split_specs(",".join(specs)) == specs


def test_get_canonical_and_scale_of_read_a_spec_through_one_parser(monkeypatch):
    seen = []
    parse = initializers.parse_spec
    monkeypatch.setattr(initializers, "parse_spec", lambda spec: seen.append(spec) or parse(spec))
    initializers.get("random:2")
    initializers.canonical("random:2")
    initializers.scale_of("random:2")
    assert seen == ["random:2"] * 3


def test_catalog_explain_and_sample_summary():
    rows = initializers.catalog()
    assert [r["name"] for r in rows] == initializers.names()
    assert rows[2] == {
        "name": "random",
        "usage": "random[:SCALE]",
        "help": initializers.REGISTRY["random"].help,
        "formula": "W = randn * SCALE",
        "kind": "sampler",
    }
    info = initializers.explain(" HE_NORMAL")
    assert info["name"] == "he_normal" and "kaiming_normal_" in info["equivalents"]["pytorch"]
    with pytest.raises(InitlabError, match="at most 0"):
        initializers.explain("he:1")
    r = initializers.sample_summary("he", [512, 256], seed=0)
    W = initializers.get("he")((512, 256), np.random.default_rng(0))
    assert r["sample"] == {"mean": W.mean(), "std": W.std(), "min": W.min(), "max": W.max()}
    assert r["formula"]["text"] == "W = randn * sqrt(2 / fan_in)" and r["formula"]["std"] == np.sqrt(2 / 256)
    assert r["shape"] == [512, 256] and r["seed"] == 0 and r["init"] == "he"
