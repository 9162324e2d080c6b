"""muP's coordinate check (initlab.torch.coord): the growth definition, the verdicts on the
standard parametrization and on muP form, determinism, and the command line."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from initlab.errors import InitlabError
from initlab.torch import CoordCheck, coord_check
from initlab.torch.coord import growth_per_4x

from .conftest import run

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "examples" / "coord_models.py"
WIDTHS = [32, 64, 128, 256, 512]


def _models():
    spec = importlib.util.spec_from_file_location("coord_models_for_tests", MODELS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


cm = _models()


@pytest.fixture(autouse=True)
def one_thread():
    """Small models on a shared machine: one thread is faster (OpenMP's spinning costs more than
    the work), and the count found is restored."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def features(n=32, seed=0):
    return torch.randn(n, cm.IN, generator=torch.Generator().manual_seed(seed))


def tokens(b=2, t=8, seed=0):
    return torch.randint(0, cm.VOCAB, (b, t), generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- the definition
@pytest.mark.parametrize(
    "widths, l1, growth",
    [
        ([64, 256], [1.0, 2.0], 2.0),  # two widths 4x apart: the ratio, mup's test's number
        ([64, 256], [3.0, 1.0], 1 / 3),
        ([32, 64, 128, 256, 512], [0.7] * 5, 1.0),
        ([32, 64, 128, 256, 512], [0.1 * w**0.5 for w in [32, 64, 128, 256, 512]], 2.0),  # l1 ~ sqrt(w)
        ([100, 200, 400], [5 / w for w in [100, 200, 400]], 0.25),  # l1 ~ 1/w
        ([64, 128, 256], [0.0, 0.0, 0.0], 1.0),  # a zero readout at init: flat
        ([64, 128, 256], [0.0, 0.0, 1e-3], math.inf),
        ([64, 128, 256], [1e-3, 1e-4, 0.0], 0.0),
    ],
)
def test_growth_per_4x_by_hand(widths, l1, growth):
    assert growth_per_4x(widths, l1) == pytest.approx(growth, rel=1e-9)


@pytest.mark.parametrize("l1", [[1.0, 1.0, float("nan")], [float("nan")] * 3, [float("inf"), 1.0, 1.0]])
def test_a_diverged_run_is_not_a_growth(l1):
    """A run whose l1 is NaN (lr 1e30) read as 'grows x inf' (a new-user trial): it is NaN, and
    the verdict says diverged."""
    assert math.isnan(growth_per_4x([64, 128, 256], l1))
    flagged, r = hand_made({"fc": [1.0, math.nan, 1.5]})
    assert flagged == ["fc"] and r.verdict("fc").startswith("diverged at step 1 (l1 is NaN or inf")
    assert "grows at step 2" in r.verdict("fc")


def test_growth_is_the_least_squares_slope_not_the_end_points():
    w = [64, 128, 256, 512]
    l1 = [1.0, 1.0, 1.0, 4.0]  # log l1 = [0, 0, 0, log 4]: slope (over log w) 0.6 log4/log2 per... by hand
    x, y = np.log(w), np.log(l1)
    b = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    assert growth_per_4x(w, l1) == pytest.approx(4**b)
    assert 4**b != pytest.approx((l1[-1] / l1[0]) ** (np.log(4) / np.log(512 / 64)))


def hand_made(growth, exempt=()):
    modules = list(growth)
    steps = len(next(iter(growth.values())))
    result = CoordCheck(
        widths=[64, 256],
        steps=steps,
        optimizer="adam",
        lr=1e-3,
        seeds=[0],
        records=[],
        modules=modules,
        growth=growth,
        exempt={m: "readout" for m in exempt},
        flagged=[],
    )
    return [m for m in modules if result.bad_steps(m)], result


def test_flagged_from_a_hand_made_record_set():
    flagged, r = hand_made(
        {
            "fc1": [1.0, 1.19, 1.0],  # inside (1/1.2, 1.2): ok
            "fc2": [1.0, 1.21, 1.0],  # grows at step 1
            "act": [1.0, 1.0, 0.8],  # shrinks at step 2 (1/1.2 = 0.833)
            "readout": [0.5, 1.0, 1.1],  # shrinks at init only, exempt there
            "head": [0.5, 1.0, 1.0],  # the same, not exempt
        },
        exempt=["readout"],
    )
    assert flagged == ["fc2", "act", "head"]
    assert r.verdict("fc2") == "grows at step 1" and r.verdict("act") == "shrinks at step 2"
    assert r.verdict("readout") == "ok (exempt at init)" and r.verdict("head") == "shrinks at step 0"
    flagged, _ = hand_made({"readout": [0.5, 1.3]}, exempt=["readout"])  # exempt at init only
    assert flagged == ["readout"]


# ----------------------------------------------------------------------------- the verdicts
@pytest.mark.parametrize("seed", [0, 7])
def test_standard_mlp_under_adam_is_flagged_and_mup_is_not(seed):
    sp = coord_check(cm.mlp_sp, WIDTHS, features(), optimizer="adam", seeds=2, seed=seed)
    mup = coord_check(cm.mlp_mup, WIDTHS, features(), optimizer="adam", seeds=2, seed=seed)
    assert "readout" in sp.flagged and sp.growth["readout"][2] > 1.2  # the output grows with width
    assert sp.verdict("readout").startswith("grows")
    assert mup.flagged == [] and mup.passed
    assert all(1 / 1.2 < g < 1.2 for m in mup.modules for g in mup.growth[m][1:])
    assert mup.lr_scaled == ["fc2.weight"]  # Adam: the hidden matrix only, lr * 64/width


@pytest.mark.parametrize("seed", [0, 7])
def test_mup_without_its_adam_learning_rates_is_flagged(seed):
    """muP is an init and learning rates: the same MLP with Adam's lr / m for its hidden matrix
    left out grows after the hidden layer's second update (the zero readout stops every gradient
    at step 0, so the body first moves at step 2)."""

    class NoLr(cm.MLP):
        def lr_scales(self, optimizer):
            return {}

    wrong = coord_check(lambda w: NoLr(w, mup=True), WIDTHS, features(), optimizer="adam", seeds=2, seed=seed, steps=4)
    right = coord_check(cm.mlp_mup, WIDTHS, features(), optimizer="adam", seeds=2, seed=seed, steps=4)
    assert "act2" in wrong.flagged and wrong.growth["act2"][3] > 1.2 and wrong.bad_steps("act2")[-1] == 3
    assert right.passed, right


def test_records_are_the_mean_over_seeds_and_muP_equals_SP_at_the_base_width():
    r = coord_check(cm.mlp_sp, [32, 64], features(8), optimizer="sgd", seeds=2, steps=2)
    one = [coord_check(cm.mlp_sp, [32, 64], features(8), optimizer="sgd", seeds=1, seed=s, steps=2) for s in (0, 1)]
    for rec, a, b in zip(r.records, one[0].records, one[1].records, strict=True):
        assert rec["module"] == a["module"] and rec["l1"] == pytest.approx((a["l1"] + b["l1"]) / 2, rel=1e-12)
    assert {k for k in r.records[0]} == {"width", "module", "step", "l1"}
    torch.manual_seed(3)
    a = cm.mlp_sp(cm.BASE)
    torch.manual_seed(3)
    b = cm.mlp_mup(cm.BASE)
    assert torch.equal(a.fc2.weight, b.fc2.weight)  # the same init; muP differs in the readout


def test_deterministic_and_leaves_the_global_generator_alone():
    state = torch.get_rng_state()
    r1 = coord_check(cm.mlp_sp, [32, 128], features(8), optimizer="adam", steps=2)
    assert torch.equal(torch.get_rng_state(), state)
    r2 = coord_check(cm.mlp_sp, [32, 128], features(8), optimizer="adam", steps=2)
    assert r1.records == r2.records and r1.to_dict() == r2.to_dict()


class Dropped(nn.Module):
    """Dropout as a module, functionally and inside attention: all must be off."""

    def __init__(self, width, p=0.5):
        super().__init__()
        self.fc = nn.Linear(8, width)
        self.drop = nn.Dropout(p)
        self.attn = nn.MultiheadAttention(width, 2, dropout=p, batch_first=True)
        self.out = nn.Linear(width, 3)
        self.p = p

    def forward(self, x):
        h = self.drop(self.fc(x))
        h = F.dropout(h, self.p, training=self.training)
        a, _ = self.attn(h, h, h)
        a = a + F.scaled_dot_product_attention(h, h, h, dropout_p=self.p)
        return self.out(a)


def test_dropout_is_off_everywhere():
    x = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(0))
    on = coord_check(lambda w: Dropped(w, 0.5), [8, 16], x, steps=2)
    off = coord_check(lambda w: Dropped(w, 0.0), [8, 16], x, steps=2)
    assert [r["l1"] for r in on.records] == [r["l1"] for r in off.records]


class Shared(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.a, self.b, self.out = nn.Linear(4, width), nn.Linear(width, width), nn.Linear(width, 2)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.out(self.act(self.b(self.act(self.a(x)))))


def test_a_shared_module_is_recorded_per_call_site():
    r = coord_check(Shared, [8, 32], torch.randn(4, 4), steps=1)
    assert r.modules == ["a", "act", "b", "act#2", "out"]
    assert r.exempt == {"out": "the model's output, which muP lets shrink like 1/sqrt(width) at init"}


def test_exempt_patterns_and_the_output_computed_after_the_last_module():
    class Scaled(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.fc, self.head = nn.Linear(4, width), nn.Linear(width, 3)

        def forward(self, x):
            return self.head(torch.relu(self.fc(x))) / 2

    r = coord_check(Scaled, [8, 32], torch.randn(4, 4), steps=1, exempt=["f*"])
    assert r.modules == ["fc", "head", "(output)"] and set(r.exempt) == {"fc", "(output)"}
    with pytest.raises(InitlabError, match="exempt pattern 'attn' matches no recorded module"):
        coord_check(Scaled, [8, 32], torch.randn(4, 4), steps=1, exempt=["attn"])


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"widths": [64]}, "at least two distinct widths"),
        ({"widths": [64, 64]}, "at least two distinct widths"),
        ({"widths": [64, 64, 128]}, "widths must be distinct"),
        ({"widths": [0, 64]}, "positive integers"),
        ({"widths": [32.0, 64]}, "positive integers"),
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"lr": -1.0}, "lr must be a finite number > 0"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"seeds": 0}, "seeds must be an integer >= 1"),
        ({"factory": lambda w: cm.MLP(64)}, "the factory ignores its width argument"),
        ({"factory": lambda w: nn.Linear(cm.IN, w)}, "an output of fixed size"),
        ({"factory": lambda w: "model"}, "returned a str, not a torch.nn.Module"),
        ({"batch": torch.randn(4, 10)}, "on a batch of shape (4, 10) raised RuntimeError: mat1 and mat2"),
        ({"batch": [1, 2]}, "batch must be a tensor"),
        ({"target": torch.zeros(3, dtype=torch.long)}, "need shape (8,)"),
    ],
)
def test_bad_input_is_one_line(kwargs, words):
    args = {"factory": cm.mlp_sp, "widths": [16, 32], "batch": features(8)} | kwargs
    with pytest.raises(InitlabError) as e:
        coord_check(args.pop("factory"), args.pop("widths"), args.pop("batch"), **{"steps": 2} | args)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_lr_scales_must_name_parameters():
    class Bad(cm.MLP):
        def lr_scales(self, optimizer):
            return {"fc9.weight": 0.5}

    with pytest.raises(InitlabError, match="names 'fc9.weight', which is not a parameter"):
        coord_check(Bad, [16, 32], features(8), steps=2)


def test_repr_and_to_dict():
    r = coord_check(cm.mlp_sp, [32, 128], features(8), optimizer="adam", steps=2)
    lines = repr(r).splitlines()
    assert lines[0] == "coordinate check: widths 32, 128; adam lr 0.001; 2 steps (step 0 = init); 1 seed"
    assert lines[3].split() == ["module", "step", "0", "step", "1", "verdict"]
    assert lines[-1].startswith("PASS" if r.passed else "FAIL")
    d = json.loads(json.dumps(r.to_dict()))
    assert d["passed"] is r.passed and d["flagged"] == r.flagged and len(d["records"]) == 2 * 2 * len(r.modules)
    assert [m["module"] for m in d["modules"]] == r.modules


# ----------------------------------------------------------------------------- the command line
def test_cli_fails_on_standard_adam_and_writes_the_report(capsys, tmp_path):
    argv = ["coord-check", f"{MODELS}:mlp_sp", "--widths", "32,128,512", "--input-shape", "32,64"]
    code, out, err = run([*argv, "--optimizer", "adam", "--report", str(tmp_path / "r")], capsys)
    assert code == 1, err
    assert "FAIL: 1 of 5 modules change with width: readout" in out and "wrote" in out
    html = (tmp_path / "r" / "report.html").read_text()
    assert "data:image/png;base64," in html and "grows at step 2" in html
    assert json.loads((tmp_path / "r" / "results.json").read_text())["flagged"] == ["readout"]


def test_cli_json_passes_on_mup_with_tokens(capsys):
    argv = ["coord-check", f"{MODELS}:transformer_mup", "--widths", "32,64", "--input-shape", "1,4"]
    code, out, err = run([*argv, "--input-dtype", "long", "--vocab", "128", "--steps", "2", "--json"], capsys)
    d = json.loads(out)
    assert code == (1 if d["flagged"] else 0) and d["widths"] == [32, 64] and d["steps"] == 2
    assert d["lr"] == 0.1 and "blocks.0.attn.scores" in [m["module"] for m in d["modules"]]


@pytest.mark.parametrize(
    "args, words",
    [
        (["{m}:mlp_sp", "--widths", "32,x", "--input-shape", "8,64"], "--widths takes comma-separated integers"),
        (["{m}:mlp_sp", "--widths", "32", "--input-shape", "8,64"], "at least two distinct widths"),
        (["{m}:mlp_sp", "--widths", "32,-64", "--input-shape", "8,64"], "positive integers"),
        (["{m}:fixed", "--widths", "32,64", "--input-shape", "8,64"], "the factory ignores its width argument"),
        (["{m}:mlp_sp", "--widths", "32,64", "--input-shape", "8,10"], "on a batch of shape (8, 10) raised"),
        (["{m}:nothing", "--widths", "32,64", "--input-shape", "8,64"], "has no function 'nothing'"),
        (["{m}", "--widths", "32,64", "--input-shape", "8,64"], "FILE.py:FACTORY"),
        (["{m}:mlp_sp", "--input-shape", "8,64", "--input-dtype", "long"], "give their range with --vocab N"),
        (["{m}:mlp_sp", "--input-shape", "8,64", "--input-dtype", "int8"], "unknown --input-dtype 'int8'"),
        (["{m}:mlp_sp", "--input-shape", "8,64", "--optimizer", "lion"], "unknown optimizer 'lion'"),
        (["{m}:mlp_sp", "--input-shape", "8,0"], "positive sizes"),
        (["{m}:exits", "--widths", "32,64", "--input-shape", "8,64"], "factory(32) called sys.exit(0)"),
        (["{m}:returns_dict", "--widths", "32,64", "--input-shape", "8,64"], "without 'logits'"),
        (["{m}:mlp_sp", "--input-shape", "8,64", "--exempt", "*.scores"], "exempt pattern '*.scores' matches no"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(capsys, tmp_path, args, words):
    models = tmp_path / "models.py"
    extra = """

def fixed(width):
    return MLP(64)


def exits(width):
    import sys

    sys.exit(0)


class Dict(MLP):
    def forward(self, x):
        return {"out": super().forward(x)}  # a dict with logits is read as the audit reads it


def returns_dict(width):
    return Dict(width)
"""
    models.write_text(MODELS.read_text() + extra)
    code, out, err = run(["coord-check"] + [a.format(m=models) for a in args], capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and words in err, err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- the transformer
@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_transformer_standard_vs_mup(optimizer):
    """The docs' table (docs/coord_check.md), with the CLI's batch (one sequence of 8 tokens):
    the standard parametrization's curves grow under Adam; muP form passes under Adam, and under
    SGD only its query and attention logits shrink, at the first step that moves them."""
    widths = [64, 128, 256, 512, 1024]
    batch = torch.randint(0, cm.VOCAB, (1, 8), generator=torch.Generator().manual_seed(0))
    sp = coord_check(cm.transformer_sp, widths, batch, optimizer=optimizer)
    mup = coord_check(cm.transformer_mup, widths, batch, optimizer=optimizer)
    if optimizer == "adam":
        assert mup.passed, mup
        assert {"blocks.0.attn.scores", "blocks.0.mlp.2", "blocks.1.mlp.2"} <= set(sp.flagged)
        assert all(sp.growth[m][2] > 1.2 for m in sp.flagged)
    else:
        assert sp.passed, sp
        assert set(mup.flagged) == {f"blocks.{i}.attn.{n}" for i in (0, 1) for n in ("q", "scores")}
        assert all(mup.bad_steps(m) == [2] and mup.growth[m][2] < 1 for m in mup.flagged)


def test_a_dict_output_is_read_as_the_audit_reads_it():
    """{"logits": ...} was refused by coord_check and accepted by the audit (a new-user trial):
    one rule (`audit._output_tensor`) for both; a dict without logits is one line."""
    import torch
    from torch import nn

    from initlab.torch import coord_check

    class Dict(nn.Module):
        def __init__(self, width, key="logits"):
            super().__init__()
            self.a, self.b, self.key = nn.Linear(16, width), nn.Linear(width, 4), key

        def forward(self, x):
            return {self.key: self.b(torch.relu(self.a(x))), "aux": x}

    x = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
    plain = coord_check(lambda w: nn.Sequential(nn.Linear(16, w), nn.ReLU(), nn.Linear(w, 4)), [32, 128], x, steps=2)
    wrapped = coord_check(Dict, [32, 128], x, steps=2)
    assert wrapped.growth["b"] == pytest.approx(plain.growth["2"], rel=1e-12)
    with pytest.raises(InitlabError, match="without 'logits'"):
        coord_check(lambda w: Dict(w, key="out"), [32, 128], x, steps=2)


def test_output_key_and_the_notebook_view(tmp_path, capsys):
    """The model's output a dict: coord_check takes the tensor named by output_key (the CLI's
    --output-key, as the audit's); the result shows itself in a notebook as a table."""

    class Two(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.a, self.b = nn.Linear(4, width), nn.Linear(width, 3)

        def forward(self, x):
            h = self.a(x)
            return {"hidden": h, "scores": self.b(torch.relu(h))}

    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    with pytest.raises(InitlabError, match="without 'logits'"):
        coord_check(Two, [8, 32], x, steps=1)
    r = coord_check(Two, [8, 32], x, steps=1, output_key="scores")
    assert {rec["module"] for rec in r.records} == {"a", "b"}
    page = r._repr_html_()
    assert page.count("<tr>") == 1 + len(r.modules) and ("PASS" in page or "FAIL" in page)
    (tmp_path / "m.py").write_text(
        "import torch\nfrom torch import nn\n"
        "class Two(nn.Module):\n"
        "    def __init__(self, width):\n"
        "        super().__init__()\n"
        "        self.a, self.b = nn.Linear(4, width), nn.Linear(width, 3)\n"
        "    def forward(self, x):\n"
        "        return {'hidden': self.a(x), 'scores': self.b(self.a(x))}\n"
    )
    argv = ["coord-check", f"{tmp_path / 'm.py'}:Two", "--widths", "8,32", "--input-shape", "8,4", "--steps", "1"]
    code, out, err = run([*argv, "--output-key", "scores"], capsys)
    assert code in (0, 1) and "coordinate check" in out, err


def test_vocab_missing_says_what_to_give():
    from initlab.torch.coord import random_batch

    with pytest.raises(InitlabError) as e:
        random_batch([2, 8], dtype="long")
    assert "None" not in str(e.value) and "--vocab N" in str(e.value)
    with pytest.raises(InitlabError, match="got 0"):
        random_batch([2, 8], dtype="long", vocab=0)
