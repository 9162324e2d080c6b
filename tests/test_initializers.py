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
