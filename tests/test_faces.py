"""Thin faces, tested as spaCy and papermill test theirs: each command (and each dashboard action)
turns its strings into the arguments of one library call. Each test here replaces that call and
asserts what it received; the real runs of the same commands are in test_json.py (every --json
command), test_cli.py, test_theory.py, test_sweep.py and test_dashboard.py."""

import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from initlab import initializers, theory

from .conftest import TINY_SPEC as SPEC
from .conftest import run


class Recorder:
    """A stand-in for a library function: records each call's arguments, returns ``result``."""

    def __init__(self, result=None) -> None:
        self.calls: list[tuple[tuple, dict]] = []
        self.result = result

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self.result

    @property
    def only(self) -> tuple[tuple, dict]:
        assert len(self.calls) == 1, self.calls
        return self.calls[0]


class Story:
    """What the story-printing commands print: ``to_dict()`` for --json, ``lines()`` else."""

    def to_dict(self, **_) -> dict:
        return {"story": True}

    def lines(self) -> list[str]:
        return ["a story"]


MEAN_FIELD = theory.MeanField("relu", 2.0, 0.0, 1.0, 1.0, 1.0, math.inf, math.inf)


# ------------------------------------------------------------------------------ theory
def test_theory_maps_its_options_to_depth_scales(monkeypatch, capsys):
    rec = Recorder(MEAN_FIELD)
    monkeypatch.setattr(theory, "depth_scales", rec)
    code, out, _ = run(["theory", "--activation", "relu", "--sigma-w2", "1.5", "--sigma-b2", "0.25", "--json"], capsys)
    assert code == 0 and rec.only == (("relu", 1.5, 0.25), {})
    assert json.loads(out)["phase"] == "critical"


def test_theory_critical_is_one_call_to_edge_of_chaos(monkeypatch, capsys):
    rec = Recorder(MEAN_FIELD)
    monkeypatch.setattr(theory, "edge_of_chaos", rec)
    code, out, _ = run(["theory", "--activation", "tanh", "--critical", "--sigma-b2", "0.1", "--json"], capsys)
    assert code == 0 and rec.only == (("tanh", 0.1), {})
    assert json.loads(out) == {
        "activation": "tanh",
        "sigma_b2": 0.1,
        "critical_sigma_w2": 2.0,
        "q_star": 1.0,
        "chi1": 1.0,
    }


def test_theory_phase_diagram_is_the_grid_from_theory_drawn_by_report(monkeypatch, capsys, tmp_path):
    from initlab.report import plots

    grid, fig = object(), object()
    compute, draw, save = Recorder(grid), Recorder(fig), Recorder()
    monkeypatch.setattr(theory, "phase_grid", compute)
    monkeypatch.setattr(plots, "phase_diagram_figure", draw)
    monkeypatch.setattr(plots, "save_figure", save)
    png = str(tmp_path / "pd" / "phase.png")
    code, out, err = run(["theory", "--activation", "relu", "--phase-diagram", png, "--json"], capsys)
    assert code == 0 and compute.only == (("relu",), {})
    assert draw.only == ((grid,), {}) and save.only == ((fig, png), {})
    assert json.loads(out) == {"activation": "relu", "phase_diagram": png} and f"wrote {png}" in err


def test_theory_measure_maps_every_option_to_measure_ensemble(monkeypatch, capsys, tmp_path):
    from initlab.diagnose import propagation
    from initlab.report import plots

    measured = SimpleNamespace(to_dict=lambda: {"config": {}, "layers": [], "finite_width": {"predicted_spread": None}})
    rec, draw, save = Recorder(measured), Recorder("fig"), Recorder()
    monkeypatch.setattr(propagation, "measure_ensemble", rec)
    monkeypatch.setattr(plots, "ensemble_figure", draw)
    monkeypatch.setattr(plots, "save_figure", save)
    png = str(tmp_path / "m.png")
    argv = ["theory", "--measure", "--activation", "tanh", "--depth", "7", "--width", "9", "--init", "xavier"]
    argv += ["--sigma-b2", "0.5", "--networks", "3", "--batch", "2", "--seed", "5", "--plot", png, "--json"]
    code, out, _ = run(argv, capsys)
    assert code == 0 and rec.only == (
        (),
        {
            "depth": 7,
            "width": 9,
            "activation": "tanh",
            "init": "xavier",
            "sigma_b2": 0.5,
            "networks": 3,
            "batch": 2,
            "seed": 5,
        },
    )
    assert draw.only == ((measured,), {}) and save.only == (("fig", png), {})
    assert json.loads(out)["plot"] == png


# -------------------------------------------------------------------------------- init
def test_init_maps_spec_shape_and_seed_to_sample_summary(monkeypatch, capsys):
    result = {"init": "x", "shape": [3, 2], "seed": 4, "sample": {}, "formula": {}}
    rec = Recorder(result)
    monkeypatch.setattr(initializers, "sample_summary", rec)
    code, out, _ = run(["init", "variance_scaling:2,fan_out", "--shape", "3,2", "--seed", "4", "--json"], capsys)
    assert code == 0 and rec.only == (("variance_scaling:2,fan_out", [3, 2]), {"seed": 4})
    assert json.loads(out) == result


def test_init_list_and_explain_are_one_registry_call_each(monkeypatch, capsys):
    rows = [{"name": "he", "usage": "he", "help": "h", "formula": "f"}]
    listing, info = Recorder(rows), Recorder({"name": "he", "equivalents": {}})
    monkeypatch.setattr(initializers, "catalog", listing)
    monkeypatch.setattr(initializers, "explain", info)
    code, out, _ = run(["init", "--list", "--json"], capsys)
    assert code == 0 and listing.only == ((), {}) and json.loads(out) == {"initializers": rows}
    code, out, _ = run(["init", "HE", "--explain", "--json"], capsys)
    assert code == 0 and info.only == (("HE",), {}) and json.loads(out)["name"] == "he"


# -------------------------------------------------------------------------------- deep
def test_deep_maps_its_options_to_one_deep_config(monkeypatch, capsys):
    from initlab.experiments import deep as deep_mod

    rec = Recorder(Story())
    monkeypatch.setattr(deep_mod, "deep", rec)
    argv = ["deep", "--depth", "4", "--width", "8", "--hidden", "tanh", "--inits", "he, variance_scaling:2,fan_out"]
    argv += ["--lr", "0.5", "--iterations", "3", "--train-examples", "0", "--seed", "2", "--json"]
    code, out, _ = run(argv, capsys)
    (config,), kwargs = rec.only
    assert code == 0 and json.loads(out) == {"story": True} and kwargs == {"progress": None}
    assert config == deep_mod.DeepConfig(
        depth=4,
        width=8,
        hidden="tanh",
        inits=("he", "variance_scaling:2,fan_out"),  # one spec: the registry splits the list
        lr=0.5,
        iterations=3,
        train_examples=None,
        seed=2,
    )


# ------------------------------------------------------------------------------- audit
def test_audit_maps_target_shape_init_and_seed(monkeypatch, capsys, tmp_path):
    torch = pytest.importorskip("torch")
    import initlab.torch

    audit_mod = sys.modules["initlab.torch.audit"]
    model = torch.nn.Linear(6, 2)
    load, init, audit = Recorder(model), Recorder(), Recorder(Story())
    monkeypatch.setattr(audit_mod, "load_model", load)
    monkeypatch.setattr(initlab.torch, "initialize", init)
    monkeypatch.setattr(initlab.torch, "audit", audit)
    target = f"{tmp_path}/models.py:make"
    argv = ["audit", target, "--input-shape", "4,6", "--init", "he", "--seed", "3", "--checkpoint", "w.pt", "--json"]
    code, out, _ = run(argv, capsys)
    assert code == 0 and json.loads(out) == {"story": True}
    assert load.only == ((target,), {"checkpoint": "w.pt"})
    (m, spec), kw = init.only
    assert m is model and spec == "he" and kw["seed"] == 3 and tuple(kw["batch"].shape) == (4, 6)
    (m, batch), kw = audit.only
    assert m is model and batch is init.only[1]["batch"] and kw == {"seed": 3}
    expected = torch.randn(4, 6, generator=torch.Generator().manual_seed(3))
    assert torch.equal(batch, expected)  # the batch is drawn from --seed


# --------------------------------------------------------------------------- reproduce
def test_reproduce_passes_its_name(monkeypatch, capsys):
    from initlab.experiments import reproduce as mod

    rec = Recorder(Story())
    monkeypatch.setattr(mod, "reproduce", rec)
    code, out, _ = run(["reproduce", "course-planar"], capsys)
    assert code == 0 and rec.only == (("course-planar",), {}) and out == "a story\n"


# ------------------------------------------------------------------------------- demos
@pytest.mark.parametrize(
    "argv, function, expected",
    [
        (["demo", "walkthrough", "--updates", "2", "--seed", "5"], "walkthrough", {"updates": 2, "seed": 5}),
        (["demo", "symmetry", "--iterations", "7", "--seed", "3"], "symmetry_story", {"iterations": 7, "seed": 3}),
        (["demo", "saturation", "--iterations", "9", "--seed", "4"], "saturation_story", {"iterations": 9, "seed": 4}),
    ],
)
def test_demo_stories_map_their_options(argv, function, expected, monkeypatch, capsys):
    from initlab.experiments import demos

    rec = Recorder(Story())
    monkeypatch.setattr(demos, function, rec)
    code, out, _ = run([*argv, "--json"], capsys)
    assert code == 0 and rec.only == ((), expected) and json.loads(out) == {"story": True}


def test_demo_is_the_course_comparison(monkeypatch, capsys, tmp_path):
    from initlab import cli
    from initlab.experiments.compare import CompareConfig

    rec = Recorder((Story(), {}))
    monkeypatch.setattr(cli, "compare_run", rec)
    report = str(tmp_path / "demo")
    code, out, _ = run(["demo", "--seeds", "2", "--iterations", "11", "--report", report, "--json"], capsys)
    (config,), kwargs = rec.only
    assert code == 0 and json.loads(out) == {"story": True}
    assert kwargs == {"report": report, "course_table": True, "progress": False}
    assert config == CompareConfig(
        data="circles",
        layers=(2, 10, 5, 1),
        hidden="relu",
        inits=("zeros", "random:0.01", "he"),
        lr=0.01,
        iterations=11,
        seeds=(0, 1),
    )


# ------------------------------------------------------------------------------- sweep
@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    return path


def test_sweep_run_maps_its_options_to_run_sweep(monkeypatch, capsys, tmp_path, spec):
    from initlab.experiments import sweep

    counts = dict(total=2, skipped=0, done=2, failed=0, seconds=0.1, errors=[], from_journal=0, unstored=0)
    out = SimpleNamespace(**counts, journaled=0, journal="j", interrupted=False, to_dict=lambda: {"done": 2})
    rec = Recorder(out)
    monkeypatch.setattr(sweep, "run_sweep", rec)
    store = str(tmp_path / "runs.duckdb")
    argv = ["sweep", "run", str(spec), "--store", store, "--executor", "dask", "--address", "tcp://h:1"]
    argv += ["--workers", "2", "--retries", "5", "--max-runs", "10", "--json"]
    code, printed, _ = run(argv, capsys)
    (sw, st), kwargs = rec.only
    assert code == 0 and json.loads(printed) == {"sweep": "tiny", "store": store, "done": 2}
    assert sw == sweep.load_spec(spec) and str(st.path) == store
    assert kwargs == {
        "executor": "dask",
        "address": "tcp://h:1",
        "workers": 2,
        "retries": 5,
        "progress": None,
        "max_runs": 10,
    }


def test_sweep_status_maps_spec_store_and_max_runs(monkeypatch, capsys, tmp_path, spec):
    from initlab.experiments import sweep

    rec = Recorder({"sweeps": [], "journaled": 0})
    monkeypatch.setattr(sweep, "sweep_status", rec)
    store = tmp_path / "runs.duckdb"
    store.write_bytes(b"\0" * 8 + b"DUCK" + b"\0" * 4084)  # a DuckDB header: the store exists
    code, out, _ = run(["sweep", "status", str(spec), "--store", str(store), "--max-runs", "9", "--json"], capsys)
    (sw, st), kwargs = rec.only
    assert code == 0 and json.loads(out) == {"sweeps": [], "journaled": 0}
    assert sw == sweep.load_spec(spec) and st.path == store and kwargs == {"max_runs": 9}


def test_sweep_report_maps_store_folder_and_sweep(monkeypatch, capsys, tmp_path):
    from initlab.report import sweep as report

    rec = Recorder({"html": tmp_path / "r" / "report.html"})
    monkeypatch.setattr(report, "write_sweep_report", rec)
    store = tmp_path / "runs.duckdb"
    code, out, _ = run(["sweep", "report", "--store", str(store), "--out", str(tmp_path / "r"), "--sweep", "s"], capsys)
    (st, folder, name), kwargs = rec.only
    assert code == 0 and st.path == store and folder == str(tmp_path / "r") and name == "s" and kwargs == {}
    assert out == f"wrote {tmp_path / 'r' / 'report.html'}\n"


def test_sweep_query_maps_sql_and_its_limits(monkeypatch, capsys, tmp_path):
    from initlab.experiments.store import Store

    rec = Recorder((["x"], [(0.1 + 0.2,)]))
    monkeypatch.setattr(Store, "query", lambda self, sql, **kw: rec(self.path, sql, **kw))
    store = tmp_path / "runs.duckdb"
    argv = ["sweep", "query", "SELECT 1", "--store", str(store), "--max-rows", "3", "--timeout", "2.5", "--json"]
    code, out, _ = run(argv, capsys)
    assert code == 0 and rec.only == ((store, "SELECT 1"), {"max_rows": 3, "timeout": 2.5})
    assert json.loads(out) == {"columns": ["x"], "rows": [[0.30000000000000004]]}  # every digit
    run(["sweep", "query", "SELECT 1", "--store", str(store)], capsys)
    assert rec.calls[-1] == ((store, "SELECT 1"), {})  # absent: the library's defaults


# --------------------------------------------------------------------------- dashboard
def test_dashboard_command_maps_port_host_and_browser(monkeypatch, capsys):
    import initlab.dashboard

    rec = Recorder()
    monkeypatch.setattr(initlab.dashboard, "serve", rec)
    code, _, _ = run(["dashboard", "--port", "9001", "--host", "127.0.0.2", "--no-browser"], capsys)
    assert code == 0 and rec.only == ((9001, "127.0.0.2"), {"open_browser": False})
    run(["dashboard"], capsys)
    assert rec.calls[-1] == ((8765, "127.0.0.1"), {"open_browser": True})


@pytest.fixture
def board():
    pytest.importorskip("panel")
    from initlab.dashboard.app import Dashboard

    return Dashboard()


def test_the_scale_slider_sets_the_scale_through_the_registry(board, monkeypatch):
    """The slider's value (log10) becomes one `initializers.with_scale` call; the spec keeps its
    other arguments: variance_scaling:2,fan_out at 10^-0.3 is variance_scaling:0.5,fan_out."""
    board.slots[0].value = "variance_scaling:2,fan_out"
    assert board.sliders[0].visible and board.sliders[0].value == pytest.approx(math.log10(2))
    board.sliders[0].value = math.log10(0.5)
    board._scale_changed(0)
    assert board.slots[0].value == "variance_scaling:0.5,fan_out"

    rec = Recorder("random:3")
    monkeypatch.setattr(initializers, "with_scale", rec)
    board.slots[1].value = "random:0.01"
    board.sliders[1].value = math.log10(3)
    board._scale_changed(1)
    assert rec.only == (("random:0.01", 3.0), {}) and board.slots[1].value == "random:3"


def test_the_scale_slider_leaves_a_spec_it_cannot_scale(board):
    board.slots[0].value = "he"
    assert not board.sliders[0].visible
    board._scale_changed(0)  # no scale to set: the spec stays
    assert board.slots[0].value == "he"
    board.slots[0].value = "variance_scaling:2,fan_side"  # marked under the field; the spec stays
    board._scale_changed(0)
    assert board.slots[0].value == "variance_scaling:2,fan_side" and "fan_side" in board.errors["inits"].object
    board.slots[0].value = "random:-1"  # a bad scale is what the slider replaces
    board.sliders[0].value = -1
    board._scale_changed(0)
    assert board.slots[0].value == "random:0.1" and board.errors["inits"].object == ""


def test_train_is_the_parsed_config_handed_to_one_trainer(board, monkeypatch):
    from initlab.dashboard import app
    from initlab.dashboard.session import parse_config

    started = []

    class FakeTrainer:
        def __init__(self, config) -> None:
            self.config, self.running, self.snapshot, self.error = config, False, None, None

        def start(self) -> None:
            started.append(self.config)

    monkeypatch.setattr(app, "Trainer", FakeTrainer)
    board.data.value, board.layers.value, board.hidden.value = "moons", "2,6,1", "tanh"
    board.slots[0].value, board.slots[1].value = "variance_scaling:2,fan_out", "xavier"
    board.slots[2].value = board.slots[3].value = ""
    board.lr.value, board.iterations.value, board.seed.value = "0.3", "20", "7"
    board.train()
    values = {
        "data": "moons",
        "layers": "2,6,1",
        "hidden": "tanh",
        "inits": "variance_scaling:2,fan_out,xavier",
        "lr": "0.3",
        "iterations": "20",
        "seed": "7",
        "residual": "0",
        "gate": "none",
        "norm": "none",
    }
    assert board.values() == values and started == [parse_config(values)[0]]
    assert started[0].inits == ("variance_scaling:2,fan_out", "xavier")


def test_a_url_with_a_multi_argument_spec_fills_one_slot(monkeypatch):
    pytest.importorskip("panel")
    from initlab.dashboard.app import Dashboard

    board = Dashboard({"inits": "zeros,variance_scaling:2,fan_out,he"})
    assert [s.value for s in board.slots] == ["zeros", "variance_scaling:2,fan_out", "he", ""]


def test_download_and_stop_are_the_trainers_own(board):
    calls = []
    board.trainer = SimpleNamespace(
        result=lambda: {"final_cost": [np.float64(0.5)]}, running=True, stop=lambda: calls.append("stop")
    )
    assert json.loads(board._download().read()) == {"final_cost": [0.5]}
    board.stop()
    assert calls == ["stop"]
