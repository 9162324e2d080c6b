"""`initlab deep --residual`, RunConfig's residual fields and `initlab reproduce fixup-2019`, at
small sizes (the defaults' timings are in docs/deep.md)."""

import json

import numpy as np
import pytest

from initlab import InitlabError, data
from initlab.experiments.reproduce import FixupConfig, fixup_2019
from initlab.experiments.run import RunConfig, Training, train
from initlab.nn.network import Network

from .conftest import run

LAYERS = (64, 8, 8, 8, 8, 8, 10)  # 2 blocks of 2 layers at width 8


def test_plain_ids_unchanged_and_residual_fields_enter_the_identity():
    plain = RunConfig("digits", (64, 32, 32, 32, 10), "relu", None, "he", 0.05, 50, 0)
    assert plain.id == "d3259ae10c9671d5"  # its id before RunConfig had residual fields
    assert "residual" not in plain.identity() and plain.structure == {}
    res = RunConfig("digits", LAYERS, "relu", None, "he", 0.05, 50, 0, residual=2)
    gated = RunConfig("digits", LAYERS, "relu", None, "he", 0.05, 50, 0, residual=2, gate=True)
    one = RunConfig("digits", LAYERS, "relu", None, "he", 0.05, 50, 0, residual=2, gate=1)
    assert len({plain.id, res.id, gated.id, one.id}) == 4
    assert gated.group != one.group  # True starts where the init says (rezero: 0), 1.0 starts at 1
    assert one.gate == 1.0 and isinstance(one.gate, float) and res.row()["residual"] == 2
    rezero = RunConfig("digits", LAYERS, "relu", None, "rezero", 0.05, 50, 0, residual=2)
    assert rezero.group != res.group  # rezero's gates would gate He too


def test_run_config_refuses_what_does_not_fit():
    with pytest.raises(InitlabError, match="gate and norm belong to residual networks"):
        RunConfig("digits", LAYERS, "relu", None, "he", norm="layernorm")
    with pytest.raises(InitlabError, match="1 \\+ 3 \\* blocks hidden layers"):
        RunConfig("digits", LAYERS, "relu", None, "he", residual=3)
    with pytest.raises(InitlabError, match="norm must be None or one of layernorm"):
        RunConfig("digits", LAYERS, "relu", None, "he", residual=2, norm="batchnorm")
    with pytest.raises(InitlabError, match="gate must be None, True or a finite"):
        RunConfig("digits", LAYERS, "relu", None, "he", residual=2, gate=float("nan"))


def test_a_residual_run_equals_the_network_trained_alone():
    c = RunConfig("digits", LAYERS, "relu", None, "fixup", 0.05, 20, 3, examples=100, residual=2, norm="layernorm")
    other = RunConfig("digits", LAYERS, "relu", None, "he", 0.05, 20, 4, examples=100, residual=2, norm="layernorm")
    (r, _) = train([c, other])
    ds = data.load("digits")
    net = Network(list(LAYERS), hidden="relu", init="fixup", seed=3, residual=2, norm="layernorm")
    h = net.fit(ds.X_train[:, :100], ds.Y_train[:, :100], lr=0.05, iterations=20)
    assert r.final_cost == h.final_cost
    assert Training([c]).network.layout.describe() == "2 block(s) of 2 layer(s), width 8, layernorm"


def test_cli_deep_residual_json_and_report(capsys, tmp_path):
    code, out, err = run(
        [
            "deep", "--residual", "2", "--blocks", "3", "--width", "8", "--iterations", "5",
            "--train-examples", "60", "--inits", "he,fixup,rezero,zero,gpt2", "--json",
            "--report", str(tmp_path / "r"),
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    assert got["config"]["residual"] == 2 and got["config"]["blocks"] == 3
    runs = {r["init"]: r for r in got["runs"]}
    assert list(runs) == ["he", "fixup", "rezero", "zero", "gpt2"]
    for r in runs.values():
        assert {"init", "train_accuracy", "final_cost", "stream_variance", "predicted_stream_variance"} <= set(r)
        assert len(r["stream_variance"]) == len(r["predicted_stream_variance"]) == 3
    # a zero last layer (fixup, zero) or a zero gate (rezero) adds nothing to the stream at init
    for init in ("fixup", "rezero", "zero"):
        assert runs[init]["stream_variance"] == [runs[init]["stream_variance_input"]] * 3
        assert np.allclose(runs[init]["predicted_stream_variance"], runs[init]["predicted_stream_variance_input"])
    assert np.all(np.diff(runs["he"]["predicted_stream_variance"]) > 0)
    assert np.allclose(np.diff(np.log2(runs["he"]["predicted_stream_variance"])), 1.0)  # ReLU/He: 2x a block
    page = (tmp_path / "r" / "report.html").read_text()
    assert "residual stream at initialization" in page and "fixup" in page


def test_cli_deep_residual_text_and_refusals(capsys):
    code, out, err = run(
        ["deep", "--residual", "1", "--blocks", "2", "--width", "6", "--iterations", "2", "--train-examples", "30",
         "--inits", "he", "--norm", "layernorm", "--gate-value", "0.5"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "2 blocks of 1 layer(s), width 6, gates at 0.5, layernorm" in out and "block 2" in out
    code, out, err = run(["deep", "--norm", "layernorm", "--iterations", "1"], capsys)
    assert code == 2 and "gate and norm belong to residual networks" in err


def test_fixup_2019_small():
    rep = fixup_2019(FixupConfig(depths=(2, 6), width=8, examples=40, steps=5))
    rows = {(r["init"], r["blocks"]): r for r in rep.rows}
    assert len(rows) == 6
    # Fixup: every branch and the readout start at 0: only the readout has a gradient, on the
    # input projection's stream, which the depth does not change
    assert rows["fixup", 2]["first_gradient_norm"] == pytest.approx(rows["fixup", 6]["first_gradient_norm"], rel=1e-9)
    assert rows["he", 6]["first_gradient_norm"] > rows["he", 2]["first_gradient_norm"]
    assert rows["rezero", 2]["stream_variance_last_block"] == pytest.approx(
        rows["rezero", 6]["stream_variance_last_block"], rel=1e-12
    )
    assert all(r["claim"] for r in rep.rows)
    text = "\n".join(rep.lines())
    assert "the papers' claims" in text and "Zhang et al. 2019" in text


def test_cli_reproduce_fixup_json(capsys):
    code, out, err = run(["reproduce", "fixup-2019", "--depths", "2", "--width", "6", "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    assert got["name"] == "fixup-2019" and {r["init"] for r in got["rows"]} == {"he", "fixup", "rezero"}
    code, out, err = run(["reproduce", "course-planar", "--seed", "3"], capsys)
    assert code == 2 and "course's own sizes and seeds" in err


def test_cli_train_residual_is_the_network_alone(capsys):
    argv = ["train", "--data", "digits", "--layers", "64,6,6,6,10", "--residual", "1", "--init", "rezero"]
    code, out, err = run(
        [*argv, "--norm", "layernorm", "--lr", "0.05", "--iterations", "5", "--seed", "2", "--json"], capsys
    )
    assert code == 0, err
    got = json.loads(out)
    assert got["config"]["residual"] == 1 and got["config"]["norm"] == "layernorm"
    ds = data.load("digits")
    net = Network([64, 6, 6, 6, 10], hidden="tanh", init="rezero", seed=2, residual=1, norm="layernorm")
    assert got["final_cost"] == net.fit(ds.X_train, ds.Y_train, lr=0.05, iterations=5).final_cost
    code, out, err = run(["train", "--layers", "2,4,4,1", "--gate", "--iterations", "1"], capsys)
    assert code == 2 and "gate and norm belong to residual networks" in err
