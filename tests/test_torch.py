"""initlab on PyTorch models: initialize with PyTorch's fans, audit with one batch."""

import json

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from initlab.errors import InitlabError
from initlab.torch import audit, initialize, looks_like, torch_fans

from .conftest import SEEDS, run


def mlp(hidden=nn.ReLU, width=64):
    return nn.Sequential(nn.Linear(20, width), hidden(), nn.Linear(width, width), hidden(), nn.Linear(width, 10))


def batch(n=256, d=20, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_zero_hidden_layer_then_he_normal():
    torch.manual_seed(0)
    m = mlp()
    nn.init.zeros_(m[2].weight)
    nn.init.zeros_(m[2].bias)
    rep = audit(m, batch())
    hid = next(x for x in rep.layers if x.name == "2")
    assert hid.effective_width == 1 and hid.groups == [list(range(64))]
    assert any(
        f["kind"] == "symmetry"
        and f["layer"] == "2"
        and "1 of 64 units distinct" in f["message"]
        and "he_normal" in f["message"]
        for f in rep.findings
    )
    set_ = initialize(m, "he_normal", seed=0)
    assert set(set_) == {"0", "2", "4"} and set_["2"]["fan_in"] == 64
    rep = audit(m, batch())
    assert all(x.effective_width == x.width for x in rep.layers)
    assert not [f for f in rep.findings if f["kind"] == "symmetry"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_units_equal_up_to_rounding_are_reported_as_such(dtype):
    """Identical units that rounding split by a few ulps (BLAS, a GPU, float32 training) are
    neither distinct units nor silently equal: named, with their largest difference."""
    torch.manual_seed(0)
    m = mlp().to(dtype)
    with torch.no_grad():
        m[2].weight.fill_(0.25)
        m[2].bias.zero_()
        eps = torch.finfo(dtype).eps
        m[2].weight[5, 3] += 4 * eps * 0.25  # unit 5 split from the others by 4 ulps
        m[2].weight[9] = m[0].weight[0, 0]  # unit 9 truly different
    rep = audit(m, batch().to(dtype))
    hid = next(x for x in rep.layers if x.name == "2")
    assert hid.effective_width == 3  # exact: {all but 5 and 9}, {5}, {9}
    assert hid.rounding_groups == [[i for i in range(64) if i != 9]]
    assert hid.rounding_difference == pytest.approx(4 * eps * 0.25, rel=1e-6)
    msgs = [f["message"] for f in rep.findings if f["kind"] == "symmetry" and f["layer"] == "2"]
    assert len(msgs) == 1 and "2 of 64 units distinct up to rounding" in msgs[0]
    untouched = next(x for x in rep.layers if x.name == "0")
    assert untouched.rounding_groups == [] and untouched.rounding_difference is None


# the shared names: initlab spec -> torch.nn.init call on a tensor
PAIRS = {
    "he_normal": lambda t: nn.init.kaiming_normal_(t, nonlinearity="relu"),
    "he_uniform": lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"),
    "glorot_normal": nn.init.xavier_normal_,
    "glorot_uniform": nn.init.xavier_uniform_,
    "pytorch_default": lambda t: nn.init.kaiming_uniform_(t, a=np.sqrt(5)),
    "orthogonal": nn.init.orthogonal_,
}
MODULES = {
    "linear": lambda: nn.Linear(48, 64),
    "conv2d": lambda: nn.Conv2d(8, 16, 3),
    "conv_transpose2d": lambda: nn.ConvTranspose2d(8, 12, (3, 2)),
    "conv1d": lambda: nn.Conv1d(6, 10, 5),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", list(MODULES))
@pytest.mark.parametrize("spec", list(PAIRS))
def test_same_distribution_as_torch_nn_init(spec, kind, seed):
    """Two-sample KS: initlab's samples and torch.nn.init's, on the same module (conv fans too)."""
    ours, theirs = [], []
    for k in range(8):  # pool several draws: enough samples for the test to see a wrong scale
        m = MODULES[kind]()
        initialize(m, spec, seed=1000 * seed + k)
        ours.append(m.weight.detach().numpy().ravel())
        torch.manual_seed(1000 * seed + k)
        t = torch.empty_like(m.weight)
        PAIRS[spec](t)
        theirs.append(t.numpy().ravel())
    a, b = np.concatenate(ours), np.concatenate(theirs)
    assert stats.ks_2samp(a, b).pvalue > 1e-3
    assert a.std() == pytest.approx(b.std(), rel=0.06)


def test_fans_are_torch_fans():
    for make in list(MODULES.values()) + [lambda: nn.Embedding(30, 7), lambda: nn.Conv3d(2, 4, (2, 3, 3))]:
        w = make().weight
        assert torch_fans(w) == nn.init._calculate_fan_in_and_fan_out(w)


def test_orthogonal_conv_rows():
    m = nn.Conv2d(8, 16, 3)
    initialize(m, "orthogonal:relu", seed=0)
    W = m.weight.detach().double().reshape(16, -1)
    np.testing.assert_allclose((W @ W.T).numpy(), 2 * np.eye(16), atol=1e-5)


def test_include_bias_and_embedding_padding():
    m = nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.Linear(4, 8), nn.ReLU(), nn.Conv1d(8, 8, 1))
    done = initialize(m, "he_normal", include=["1"], bias="constant:0.1", seed=0)
    assert list(done) == ["1"] and torch.all(m[1].bias == 0.1)
    done = initialize(m, "glorot_uniform", include=[nn.Embedding, nn.Conv1d], seed=0)
    assert set(done) == {"0", "3"} and torch.all(m[0].weight[0] == 0)
    with pytest.raises(InitlabError, match="no module was initialized"):
        initialize(m, "he", include=["nothing*"])
    with pytest.raises(InitlabError, match="did you mean"):
        initialize(m, "he_nromal")


def test_same_seed_same_weights():
    a, b = mlp(), mlp()
    initialize(a, "he_uniform", seed=3)
    initialize(b, "he_uniform", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("seed", SEEDS)
def test_sigmoid_scale_10_saturated_he_not(seed):
    m = mlp(nn.Sigmoid)
    initialize(m, "random:10", seed=seed)
    rep = audit(m, batch(seed=seed))
    hidden = [x for x in rep.layers if x.activation == "sigmoid"]
    assert all(x.saturated_fraction > 0.8 for x in hidden)
    assert any(f["kind"] == "saturated" for f in rep.findings)
    initialize(m, "he_normal", seed=seed)
    rep = audit(m, batch(seed=seed))
    assert all(x.saturated_fraction < 0.1 for x in rep.layers if x.activation == "sigmoid")
    assert not any(f["kind"] == "saturated" for f in rep.findings)


def test_audit_costs_one_pass_and_leaves_the_model_alone():
    m = mlp()
    m.train()
    calls = []
    m.register_forward_pre_hook(lambda mod, inp: calls.append(1))
    rep = audit(m, batch())
    assert len(calls) == 1 and rep.passes == {"forward": 1, "backward": 1}
    assert all(p.grad is None for p in m.parameters()) and m.training


def test_audit_with_target_and_mean_field_prediction():
    torch.manual_seed(0)
    m = mlp(nn.Tanh, width=256)
    initialize(m, "lecun_normal", seed=0)
    y = torch.randint(0, 10, (256,))
    rep = audit(m, batch(), target=y)
    for x in rep.layers:
        assert x.predicted_q == pytest.approx(x.measured_q, rel=0.15)
        assert x.gradient_variance > 0


def test_looks_like():
    rng = np.random.default_rng(0)
    assert looks_like(np.zeros((4, 5)), 5, 4)[0] == "zeros"
    assert looks_like(np.full((4, 5), 0.5), 5, 4)[0] == "constant:0.5"
    assert looks_like(nn.Linear(300, 200).weight.detach().double().numpy(), 300, 200)[0] == "pytorch_default"
    assert looks_like(rng.standard_normal((200, 300)) * np.sqrt(2 / 300), 300, 200)[0] == "he_normal"
    W = rng.uniform(-1, 1, (100, 400)) * np.sqrt(6 / 500)
    assert looks_like(W, 400, 100)[0] == "glorot_uniform"
    q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    assert looks_like(q, 50, 50)[0] == "orthogonal"


MODELS = """
import torch
from torch import nn

def make_model():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 6 * 6, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())

def zero_model():
    m = make_model()
    nn.init.zeros_(m[3].weight)
    nn.init.zeros_(m[3].bias)
    return m

def broken():
    raise RuntimeError("cannot build")

def not_a_model():
    return 42
"""


@pytest.fixture
def models(tmp_path):
    f = tmp_path / "models.py"
    f.write_text(MODELS)
    return f


def test_cli_audit_json_keys_and_report(models, capsys, tmp_path):
    code, out, _ = run(
        ["audit", f"{models}:zero_model", "--input-shape", "16,3,6,6", "--json", "--report", str(tmp_path / "rep")],
        capsys,
    )
    assert code == 1  # a constant layer is an error finding: exit 1, a gate for CI
    r = json.loads(out)
    for layer in r["layers"]:
        assert {
            "name",
            "width",
            "effective_width",
            "dead_fraction",
            "saturated_fraction",
            "activation_variance",
            "gradient_variance",
        } <= set(layer)
    lin = next(x for x in r["layers"] if x["name"] == "3")
    assert lin["effective_width"] == 1 and lin["width"] == 32
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "1 of 32 units distinct" in html and "https://" not in html
    code, out, _ = run(
        ["audit", f"{models}:zero_model", "--input-shape", "16,3,6,6", "--init", "he_normal", "--json"], capsys
    )
    assert all(x["effective_width"] == x["width"] for x in json.loads(out)["layers"])


def test_cli_audit_checkpoint(models, capsys, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("m_for_ckpt", models)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ckpt = tmp_path / "zero.pt"
    torch.save(mod.zero_model().state_dict(), ckpt)
    code, out, _ = run(
        ["audit", f"{models}:make_model", "--input-shape", "8,3,6,6", "--checkpoint", str(ckpt), "--json"], capsys
    )
    # the zero model's constant layer is an error finding: exit 1
    assert code == 1 and next(x for x in json.loads(out)["layers"] if x["name"] == "3")["effective_width"] == 1


@pytest.mark.parametrize(
    "args, words",
    [
        (["{d}/none.py:make_model", "--input-shape", "8,3,6,6"], "does not exist"),
        (["{m}:nothing", "--input-shape", "8,3,6,6"], "has no 'nothing'"),
        (["{m}:broken", "--input-shape", "8,3,6,6"], "broken() raised RuntimeError: cannot build"),
        (["{m}:not_a_model", "--input-shape", "8,3,6,6"], "not a torch.nn.Module"),
        (["{m}:make_model", "--input-shape", "8,4,6,6"], "rejects an input of shape (8, 4, 6, 6)"),
        (["{m}:make_model", "--input-shape", "8,3,6,6", "--checkpoint", "{d}/list.pt"], "not a state dict"),
        (["{m}:make_model", "--input-shape", "8,3,6,6", "--checkpoint", "{d}/module.pt"], "weights_only=True"),
        (
            ["{m}:make_model", "--input-shape", "8,3,6,6", "--checkpoint", "{d}/other.pt"],
            'does not fit the model: Missing key(s) in state_dict: "0.weight"',
        ),
        (["{m}", "--input-shape", "8,3,6,6"], "FILE.py:FACTORY"),
    ],
)
def test_cli_audit_bad_input(models, tmp_path, capsys, args, words):
    torch.save([1, 2, 3], tmp_path / "list.pt")
    torch.save(nn.Linear(2, 2), tmp_path / "module.pt")
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "other.pt")
    argv = ["audit"] + [a.format(m=models, d=tmp_path) for a in args]
    code, out, err = run(argv, capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and words in err
    assert "Traceback" not in err


def test_batchnorm_judged_as_in_training_and_left_untouched():
    """BatchNorm normalizes with the batch's statistics during the audit (as in training), so
    a layer it follows is not judged on scale; its running statistics come back unchanged."""
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Linear(20, 64),
        nn.BatchNorm1d(64),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(64, 64),
        nn.BatchNorm1d(64),
        nn.ReLU(),
        nn.Linear(64, 1),
    )
    initialize(m, "random:0.001", seed=0)  # far too small, but BatchNorm undoes the scale
    m.eval()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    rep = audit(m, batch())
    assert not m.training and not m[3].training
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    for x in rep.layers[:2]:
        assert x.suits.startswith("not judged: a normalization layer follows")
    assert not [f for f in rep.findings if f["kind"] in ("scale", "propagation")]


# ---------------------------------------------------------------------------------- LSUV
@pytest.mark.parametrize("spec, tol", [("lsuv", 0.1), ("lsuv:0.01,20", 0.01)])
@pytest.mark.parametrize("hidden", [nn.ReLU, nn.Tanh])
def test_lsuv_gives_every_layer_unit_output_variance_on_the_batch(spec, tol, hidden):
    m = mlp(hidden)
    x = batch(seed=1)
    done = initialize(m, spec, seed=0, batch=x)
    out = {}
    hooks = [
        m[i].register_forward_hook(lambda mod, a, o, i=i: out.__setitem__(i, o.var(unbiased=False).item()))
        for i in (0, 2, 4)
    ]
    with torch.no_grad():
        m(x)
    for h in hooks:
        h.remove()
    for i in (0, 2, 4):
        assert abs(out[i] - 1) < tol, (i, out[i])
        rec = done[str(i)]["lsuv"]
        assert rec["converged"] and rec["variance"] == pytest.approx(out[i], rel=1e-5) and rec["iterations"] >= 1
    # it started orthonormal (as the paper's Algorithm 1): W1 (64, 20) has orthogonal columns, only scaled
    W = m[0].weight.detach().double()
    gram = W.T @ W
    np.testing.assert_allclose(gram.numpy(), gram.diagonal().mean().item() * np.eye(20), atol=1e-5)


def test_lsuv_leaves_batchnorm_statistics_alone():
    m = nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))
    before = {k: v.clone() for k, v in m.named_buffers()}
    initialize(m, "lsuv", seed=0, batch=batch())
    for k, v in m.named_buffers():
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({}, "batch=x"),
        ({"batch": np.ones((4, 20))}, "got batch=ndarray"),
        ({"batch": torch.ones(4, 7)}, "rejected the batch of shape (4, 7)"),
    ],
)
def test_lsuv_without_a_usable_batch_is_refused(kwargs, words):
    with pytest.raises(InitlabError) as e:
        initialize(mlp(), "lsuv", seed=0, **kwargs)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_cli_audit_init_lsuv(models, capsys):
    code, out, err = run(
        ["audit", f"{models}:make_model", "--input-shape", "16,3,6,6", "--init", "lsuv", "--json"], capsys
    )
    assert code == 0, err
    lin = {x["name"]: x for x in json.loads(out)["layers"]}
    assert lin["0"]["activation_variance"] > 0


# ------------------------------------------------------ the activation table, seen from PyTorch
def _module(name):
    """The torch.nn module a row of the activation table names (`Activation.torch`)."""
    from initlab.nn.activations import ACTIVATIONS

    row = ACTIVATIONS[name]
    cls, attrs = row.torch
    family = ACTIVATIONS.families.get(name.partition(":")[0])
    kw = dict(attrs)
    if family is not None:
        kw[family.torch_param] = float(name.partition(":")[2] or family.default)
    return getattr(nn, cls)(**kw)


def _torch_rows():
    """Every row of the table that names a PyTorch module, and each family at two more values."""
    from initlab.nn.activations import ACTIVATIONS

    rows = [n for n, a in ACTIVATIONS.items() if a.torch is not None]
    return rows + [f"{f}:{v}" for f in ACTIVATIONS.families for v in (0.2, -0.2)]


TORCH_ROWS = _torch_rows()


@pytest.mark.parametrize("name", TORCH_ROWS)
def test_every_row_is_pytorchs_module_value_and_derivative(name):
    """Each row's ``g`` and ``g'`` against the PyTorch module it names (forward and autograd, in
    float64): the independent reference. The audit recognises the module as that row."""
    from initlab.nn.activations import ACTIVATIONS, activation_of_module

    module = _module(name)
    assert activation_of_module(module) == name
    row = ACTIVATIONS[name]
    z = np.concatenate([np.linspace(-30, 30, 6001), [-1000.0, 1000.0]])
    t = torch.tensor(z, requires_grad=True)
    out = module(t)
    out.sum().backward()
    # PyTorch computes GELU as x (1 + erf(x / sqrt 2)) / 2 (and its tanh form as x (1 + tanh) / 2),
    # which cancels in the left tail: ours keeps the tail's few 1e-15, PyTorch's is 0 or off by
    # an ulp of 1; Softplus is linear above its threshold 20 (off by exp(-20) = 2e-9)
    atol = {"softplus": 3e-9, "gelu": 1e-14, "gelu_tanh": 1e-14}.get(name, 1e-15)
    np.testing.assert_allclose(row.fn(z), out.detach().numpy(), rtol=1e-13, atol=atol, err_msg=name)
    np.testing.assert_allclose(row.grad(z), t.grad.numpy(), rtol=1e-12, atol=atol, err_msg=name)


def test_audit_names_modern_activations_and_judges_by_their_rows():
    """GELU, SiLU, SELU, ELU, Softplus, LeakyReLU(0.2) modules are recognised (the slope is the
    module's own); dead fractions where the row can die, saturated where it saturates; SELU with
    LeCun normal, its published init, is not flagged; a module the table does not have exactly
    (ELU with alpha 0.5) is named and not judged."""
    acts = [nn.GELU(), nn.SiLU(), nn.SELU(), nn.ELU(), nn.Softplus(), nn.LeakyReLU(0.2), nn.ELU(alpha=0.5)]
    layers = [nn.Linear(20, 64)]
    for a in acts:
        layers += [a, nn.Linear(64, 64)]
    m = nn.Sequential(*layers[:-1], nn.Linear(64, 10))
    torch.manual_seed(0)
    rep = audit(m, batch())
    names = [x.activation for x in rep.layers]
    assert names == ["gelu", "silu", "selu", "elu", "softplus", "leaky_relu:0.2", "ELU(alpha=0.5)", None]
    by = {x.activation: x for x in rep.layers}
    for act in ("gelu", "silu"):
        assert by[act].dead_fraction is not None and by[act].saturated_fraction is None
    for act in ("selu", "elu", "softplus"):
        assert by[act].saturated_fraction is not None and by[act].dead_fraction is None
    assert by["leaky_relu:0.2"].critical_sigma_w2 == pytest.approx(2 / 1.04, rel=1e-6)
    assert by["ELU(alpha=0.5)"].critical_sigma_w2 is None and by["gelu"].critical_sigma_w2 is None

    selu = nn.Sequential(*(mod for _ in range(6) for mod in (nn.Linear(64, 64), nn.SELU())), nn.Linear(64, 10))
    initialize(selu, "lecun_normal", seed=0)
    rep = audit(selu, batch(d=64))
    assert not [f for f in rep.findings if f["kind"] == "scale"]
    assert all(x.suits.startswith("not judged") for x in rep.layers if x.activation == "selu")


def test_audit_finds_dead_gelu_units():
    """A GELU layer whose biases push z far below 0 on every example: its units pass (almost) no
    gradient back, reported as dead by the row's rule."""
    m = nn.Sequential(nn.Linear(20, 32), nn.GELU(), nn.Linear(32, 1))
    with torch.no_grad():
        m[0].bias.fill_(-20.0)
    rep = audit(m, batch())
    x = rep.layers[0]
    assert x.activation == "gelu" and x.dead_fraction == 1.0
    assert any(f["kind"] == "dead" and "gelu units are dead" in f["message"] for f in rep.findings)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delta_orthogonal_draws_each_kernel_in_its_own_shape(seed):
    """Xiao et al. 2018: zero but the kernel's centre, an orthogonal (out, in) matrix there; a
    transposed convolution's (in, out, k...) weight gets it the right way round. The flattened
    (out, in*k*k) draw would put an orthogonal matrix across the whole kernel instead."""
    from initlab.torch import initialize

    model = nn.Sequential(nn.Conv2d(4, 6, 3), nn.ConvTranspose2d(6, 4, 5), nn.Conv1d(5, 3, 3))
    done = initialize(model, "delta_orthogonal", seed=seed)
    for name, module in model.named_children():
        w = module.weight.detach().double().numpy()
        centre = w[(slice(None), slice(None), *[k // 2 for k in w.shape[2:]])]
        outside = np.abs(w).sum() - np.abs(centre).sum()
        assert outside == 0.0, name
        if isinstance(module, nn.ConvTranspose2d):
            centre = centre.T  # (out, in) = (4, 6)
        small = min(centre.shape)
        gram = centre.T @ centre if centre.shape[0] >= centre.shape[1] else centre @ centre.T
        np.testing.assert_allclose(gram, np.eye(small), atol=1e-6, err_msg=name)
    assert done["0"]["init"] == "delta_orthogonal"


def test_a_recipe_for_residual_blocks_is_refused_on_a_torch_model():
    from initlab.torch import initialize

    with pytest.raises(InitlabError, match="residual"):
        initialize(nn.Sequential(nn.Linear(3, 3)), "fixup")


@pytest.mark.parametrize("groups", [1, 4, 16])
@pytest.mark.parametrize("transposed", [False, True])
def test_delta_orthogonal_keeps_the_norm_of_grouped_and_depthwise_convolutions(groups, transposed):
    """Each group is a convolution of its own: its kernel orthogonal on its channels, so an
    orthogonal conv with padding keeps every input's norm (the trial measured 0.248 for a
    depthwise conv, drawn as one matrix across the groups)."""
    from initlab.torch import initialize

    conv = nn.ConvTranspose2d if transposed else nn.Conv2d
    m = conv(16, 16, 3, padding=1, groups=groups, bias=False)
    initialize(m, "delta_orthogonal", seed=groups)
    x = torch.randn(3, 16, 6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        ratio = float(m.double()(x).norm() / x.norm())
    assert abs(ratio - 1.0) < 1e-6


def test_recurrent_layers_are_said_never_skipped_without_a_word():
    """initialize does not draw an LSTM's gates: it says so (a warning, or the error when nothing
    else matched) instead of leaving 99% of a classifier's parameters silently as they were."""
    import warnings

    from initlab.torch import initialize

    m = nn.Sequential(nn.Embedding(10, 4), nn.LSTM(4, 8))
    with pytest.raises(InitlabError, match="recurrent layer.*'1'.*reset_parameters"):
        initialize(m, "he_normal", include=[nn.LSTM])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        done = initialize(m, "he_normal", seed=0)
    assert list(done) == ["0"] and any("recurrent" in str(w.message) for w in caught)
