"""The field's classic results (issue 23.3-6), each reproduction's mechanism at a fast size:
schoenholz-2017's cells through the sweep machinery, saxe-2014's learning times, glorot-2010's
Jacobians and saturation, he-2015 at a small depth; and every report renders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from initlab.errors import InitlabError
from initlab.experiments import reproduce as rp
from initlab.experiments.store import Store

INITLAB = str(Path(sys.executable).parent / "initlab")


# ------------------------------------------------------------------------ schoenholz-2017
TINY_SCHOENHOLZ = {
    "sigma_w2": (1.0, 1.75),
    "depths": (2, 16),
    "width": 16,
    "examples": 64,
    "steps": 40,
    "lr": 0.2,
}


@pytest.fixture(scope="module")
def schoenholz(tmp_path_factory):
    store = tmp_path_factory.mktemp("schoenholz") / "runs.duckdb"
    return rp.reproduce("schoenholz-2017", store=str(store), workers=1, **TINY_SCHOENHOLZ), store


def test_schoenholz_json_has_cells_xi_c_and_chance(schoenholz) -> None:
    rep, _ = schoenholz
    d = json.loads(json.dumps(rep.to_dict()))
    assert {(c["sigma_w2"], c["depth"]) for c in d["cells"]} == {(1.0, 2), (1.0, 16), (1.75, 2), (1.75, 16)}
    assert all(0 <= c["train_accuracy"] <= 1 for c in d["cells"])
    assert set(d["xi_c"]) == {"1.0", "1.75"}
    # xi_c is initlab.theory's: finite in the ordered phase, far larger near the critical point
    assert 3 < d["xi_c"]["1.0"] < 4.5 and d["xi_c"]["1.75"] > 100
    # chance: the most frequent class's share of the 64 examples trained on
    assert 0.1 <= d["chance"] < 0.25
    assert d["fit"]["c_low"] <= d["fit"]["c"] <= d["fit"]["c_high"]
    assert "c in trainable depth = c xi_c" in "\n".join(rep.lines())


def test_schoenholz_a_shallow_critical_cell_trains_and_the_store_resumes(schoenholz) -> None:
    rep, store = schoenholz
    cell = {(c["sigma_w2"], c["depth"]): c for c in rep.extra["cells"]}
    assert cell[(1.75, 2)]["train_accuracy"] >= rep.extra["threshold"]  # depth 2 << 6 xi_c: trains
    # the runs are in the store (one per cell): a rerun trains nothing and gives the same cells
    _, rows = Store(store).query("SELECT count(*) FROM runs WHERE status = 'done'")
    assert rows[0][0] == 4
    again = rp.reproduce("schoenholz-2017", store=str(store), workers=1, **TINY_SCHOENHOLZ)
    assert "4 found in the store, 0 trained now" in again.notes[-1]
    assert again.extra["cells"] == rep.extra["cells"]


def test_fit_depth_constant_separates_the_cells() -> None:
    xi = {1.0: 4.0, 2.0: 10.0}
    cells = [
        {"sigma_w2": s, "depth": d, "train_accuracy": 0.9 if d <= 3 * xi[s] else 0.1}
        for s in xi
        for d in (5, 10, 20, 40, 80)
    ]
    fit = rp.fit_depth_constant(cells, xi, threshold=0.5)
    assert fit["misclassified"] == 0
    assert fit["c_low"] <= 3.0 <= fit["c_high"] and fit["c_high"] < 4.0


def test_sweep_spec_of_schoenholz_carries_the_biases_and_examples() -> None:
    spec = rp.SchoenholzConfig(**TINY_SCHOENHOLZ).spec()
    runs = spec.runs()
    assert len(runs) == 4
    assert {r.bias for r in runs} == {f"random:{float(np.sqrt(0.05))!r}"}
    # inits in the sweep's canonical form
    assert {r.examples for r in runs} == {64} and {r.init for r in runs} == {
        "variance_scaling:1",
        "variance_scaling:1.75",
    }


# ----------------------------------------------------------------------------- saxe-2014
@pytest.mark.slow
def test_saxe_orthogonal_learning_time_does_not_grow_with_depth_and_gaussian_does() -> None:
    rep = rp.reproduce("saxe-2014", depths=(1, 8), steps=300, seeds=(0, 1, 2))
    s = {(x["weights"], x["depth"]): x for x in rep.extra["summary"]}
    steps = 300

    def t(w, d):
        v = s[(w, d)]["median_learning_time"]
        return steps * 2 if v is None else v

    assert t("orthogonal", 8) <= 2 * t("orthogonal", 1)
    assert t("gaussian", 8) > 2 * t("gaussian", 1)
    assert t("gaussian", 8) > t("orthogonal", 8)


def test_saxe_at_a_tiny_size_times_learning_per_seed() -> None:
    rep = rp.reproduce(
        "saxe-2014", depths=(1, 2), width=8, examples=64, steps=40, seeds=(0, 1), lr_multipliers=(1.0, 2.0)
    )
    assert len(rep.rows) == 2 * 2 * 2  # init x depth x seed, each at its best rate
    assert {r["lr"] for r in rep.rows if r["depth"] == 2} <= {0.06, 0.12}
    for r in rep.rows:
        hit = [i for i, c in r["costs"] if c <= 0.2]
        assert r["learning_time"] == (hit[0] if hit else None)
    text = "\n".join(rep.lines())
    assert "depth-independent" in text and "grows with depth" in text


# --------------------------------------------------------------------------- glorot-2010
def test_glorot_jacobian_singular_values_standard_below_normalized() -> None:
    rep = rp.reproduce("glorot-2010", width=32, steps=1, examples=16, seeds=(0, 1, 2), jacobian_inputs=8)
    jac = {r["init"]: r for r in rep.rows if r["part"] == "jacobian"}
    std, norm = jac["pytorch_default"]["mean_singular_value"], jac["glorot_uniform"]["mean_singular_value"]
    # the paper: 0.5 and 0.8; at width 32 we measure within 0.1 and 0.12 of them
    assert abs(std - 0.5) < 0.1 and abs(norm - 0.8) < 0.12 and std < norm


@pytest.mark.slow
def test_glorot_top_layer_is_driven_toward_saturation_early_and_lower_layers_are_not() -> None:
    rep = rp.reproduce("glorot-2010", width=64, steps=100, examples=128, seeds=(0, 1, 2), jacobian_inputs=2)
    sat = [r for r in rep.rows if r["part"] == "saturation"]
    assert len(sat) == 6
    for r in sat:
        m = np.array(r["mean_activation"])  # (records, hidden layers)
        assert abs(m[0, -1] - 0.5) < 0.1  # every sigmoid layer starts near its middle
        # the paper's mechanism: the top hidden layer is pushed toward 0 within the first steps
        assert r["top_mean_activation_early"] < 0.2, (r["init"], r["seed"], m[:, -1])
        if r["init"] == "pytorch_default":  # ... while the first hidden layer stays at its middle
            assert abs(m[-1, 0] - 0.5) < 0.1


# ------------------------------------------------------------------------------ he-2015
def test_he_trains_and_xavier_stalls_at_a_small_depth() -> None:
    rep = rp.reproduce("he-2015", depth=12, width=32, examples=200, steps=300, lr=0.02, seeds=(0, 1))
    v = {(r["init"], r["seed"]): r for r in rep.rows}
    for seed in (0, 1):
        he, xavier = v[("he", seed)], v[("xavier", seed)]
        assert he["train_accuracy"] > xavier["train_accuracy"] + 0.2, (he["verdict"], xavier["verdict"])
        assert xavier["signal_ratio"] < 1e-2 < he["signal_ratio"]  # ReLU halves the variance a layer under Xavier


# ----------------------------------------------------------------------- faces and reports
def test_options_are_checked_against_the_experiment() -> None:
    with pytest.raises(InitlabError, match="takes no option blocks: its options are"):
        rp.reproduce("saxe-2014", blocks=3)
    with pytest.raises(InitlabError, match="did you mean|choose from|schoenholz-2017"):
        rp.reproduce("schoenholz-2018")


def test_cli_refuses_sweep_options_for_other_papers(tmp_path: Path) -> None:
    r = subprocess.run(
        [INITLAB, "reproduce", "saxe-2014", "--store", str(tmp_path / "x.duckdb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0 and "schoenholz-2017's" in r.stderr


@pytest.mark.slow  # 10 s: every report's figure drawn (make test-all); each paper's mechanism stays in make test
def test_every_paper_report_renders(schoenholz, tmp_path: Path) -> None:
    from initlab.report.papers import write_paper_report

    reps = [
        schoenholz[0],
        rp.reproduce("saxe-2014", depths=(1, 2), width=8, examples=64, steps=20, seeds=(0,), lr_multipliers=(1.0,)),
        rp.reproduce("glorot-2010", width=16, steps=4, examples=32, seeds=(0,), jacobian_inputs=2),
        rp.reproduce("he-2015", depth=4, width=16, examples=64, steps=10, seeds=(0,)),
    ]
    for rep in reps:
        paths = write_paper_report(rep, tmp_path / rep.name)
        html = paths["html"].read_text()
        assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
        assert json.loads(paths["json"].read_text())["name"] == rep.name


def test_cli_maps_its_options_to_the_library_call(monkeypatch, capsys, tmp_path: Path) -> None:
    from .conftest import run

    calls = []

    class Story:
        def lines(self) -> list[str]:
            return ["a story"]

    def fake(name, **options):
        calls.append((name, options))
        return Story()

    monkeypatch.setattr(rp, "reproduce", fake)
    argv = ["reproduce", "schoenholz-2017", "--sigma-w2", "1,2.5", "--depths", "3,4", "--steps", "5"]
    code, out, _ = run([*argv, "--store", str(tmp_path / "s.duckdb"), "--workers", "1", "--seeds", "0,1"], capsys)
    assert code == 0 and out == "a story\n"
    name, options = calls[-1]
    assert name == "schoenholz-2017" and options == {
        "sigma_w2": (1.0, 2.5),
        "depths": (3, 4),
        "steps": 5,
        "seeds": (0, 1),
        "store": str(tmp_path / "s.duckdb"),
        "executor": "local",
        "address": None,
        "workers": 1,
    }
    run(["reproduce", "he-2015", "--depths", "12", "--width", "16"], capsys)
    assert calls[-1] == ("he-2015", {"depth": 12, "width": 16})
    code, _, err = run(["reproduce", "course-planar", "--report", str(tmp_path / "r")], capsys)
    assert code == 2 and "has no report" in err and len(calls) == 2
