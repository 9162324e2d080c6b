"""Every command's ``--json`` is strict JSON (RFC 8259: no bare Infinity or NaN), including the
inputs whose numbers are infinite; non-finite floats are the strings "Infinity", "-Infinity", "NaN"."""

import json

import numpy as np
import pytest
import typer

from initlab import cli

from .conftest import TINY_SPEC as SPEC
from .conftest import run


def strict(s: str) -> dict:
    def refuse(name):
        raise ValueError(f"not strict JSON: bare {name}")

    return json.loads(s, parse_constant=refuse)


MODELS = """
from torch import nn

def zero_model():
    m = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 1))
    nn.init.zeros_(m[2].weight)
    nn.init.zeros_(m[2].bias)
    return m

def wide(width):
    return nn.Sequential(nn.Linear(6, width), nn.ReLU(), nn.Linear(width, 3))
"""

LEARNER = """
import numpy as np

def initialize_parameters_zeros(layers_dims):
    return {k: np.zeros((layers_dims[l], layers_dims[l - 1] if k[0] == 'W' else 1))
            for l in range(1, len(layers_dims)) for k in (f"W{l}", f"b{l}")}
"""

#: (command path, argv after it, files it needs); each command with --json appears at least once
CASES = [
    ("train", ["--iterations", "3", "--seed", "0"], None),
    ("train", ["--data", "digits", "--layers", "64,5,10", "--iterations", "2", "--seed", "0"], None),
    ("init", ["he", "--shape", "4,3"], None),
    ("init", ["--list"], None),
    ("init", ["he", "--explain"], None),
    ("theory", ["--activation", "relu", "--sigma-w2", "3"], None),  # q* = inf
    ("theory", ["--activation", "relu", "--sigma-w2", "1"], None),  # q* = 0
    ("theory", ["--activation", "relu", "--sigma-w2", "2"], None),  # critical: xi = inf
    ("theory", ["--activation", "tanh", "--critical"], None),
    ("theory", ["--measure", "--depth", "3", "--width", "8", "--networks", "2", "--batch", "2"], None),
    ("demo", ["--iterations", "3", "--seeds", "1", "--report", "{d}/demo"], None),
    ("demo walkthrough", ["--updates", "1"], None),
    ("demo symmetry", ["--iterations", "3"], None),
    ("demo saturation", ["--iterations", "3"], None),
    ("compare", ["--layers", "2,3,1", "--inits", "zeros,he", "--iterations", "3", "--seeds", "1"], None),
    (
        "deep",
        ["--depth", "3", "--width", "8", "--inits", "he,zeros", "--iterations", "2", "--train-examples", "50"],
        None,
    ),
    ("reproduce", ["course-planar"], None),
    ("audit", ["{d}/models.py:zero_model", "--input-shape", "16,6"], "torch"),  # condition = inf
    ("coord-check", ["{d}/models.py:wide", "--widths", "8,32", "--input-shape", "4,6", "--steps", "2"], "torch"),
    ("sweep run", ["{d}/spec.toml", "--store", "{d}/runs.duckdb", "--workers", "1"], None),
    ("sweep status", ["--store", "{d}/runs.duckdb"], None),
    ("sweep query", ["SELECT 1.0 / 0.0 AS x", "--store", "{d}/runs.duckdb"], None),
    ("course check", ["{d}/learner.py", "--module", "initialization"], None),
]


def json_commands() -> set[str]:
    """Every command path of the CLI that takes --json."""
    found = set()

    def walk(cmd, path):
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])
        if any("--json" in p.opts for p in cmd.params):
            found.add(" ".join(path))

    walk(typer.main.get_command(cli.app), [])
    return found


def test_every_json_command_is_covered():
    assert json_commands() <= {c[0] for c in CASES}


# reproduce trains the course's networks for a minute: its --json is checked strictly, on the
# same command, by test_experiments.test_reproduce_course_initialization; here it runs as slow
@pytest.mark.parametrize(
    "command, args, needs",
    [pytest.param(*c, marks=pytest.mark.slow) if c[0] == "reproduce" else c for c in CASES],
    ids=[" ".join([c[0], *c[1][:1]]) for c in CASES],
)
def test_json_output_is_strict(command, args, needs, tmp_path, capsys):
    if needs:
        pytest.importorskip(needs)
    (tmp_path / "models.py").write_text(MODELS)
    (tmp_path / "spec.toml").write_text(SPEC)
    (tmp_path / "learner.py").write_text(LEARNER)
    if command in ("sweep status", "sweep query"):
        run(
            [
                "sweep",
                "run",
                str(tmp_path / "spec.toml"),
                "--store",
                str(tmp_path / "runs.duckdb"),
                "--workers",
                "1",
                "--json",
            ],
            capsys,
        )
    argv = [*command.split(), *(a.format(d=tmp_path) for a in args), "--json"]
    code, out, err = run(argv, capsys)
    assert code in (0, 1), err  # course check exits 1 when a function differs
    assert out.count("\n") == 1
    strict(out)


def test_nonfinite_numbers_are_strings(tmp_path, capsys):
    code, out, _ = run(["theory", "--activation", "relu", "--sigma-w2", "3", "--json"], capsys)
    r = strict(out)
    assert code == 0 and r["q_star"] == "Infinity" and float(r["q_star"]) == np.inf
    pytest.importorskip("torch")
    (tmp_path / "models.py").write_text(MODELS)
    code, out, _ = run(["audit", f"{tmp_path}/models.py:zero_model", "--input-shape", "16,6", "--json"], capsys)
    conds = [layer.get("condition") for layer in strict(out)["layers"]]
    assert code == 1 and "Infinity" in conds  # the zero model's error findings: exit 1


def test_jsonable_spells_every_nonfinite_float():
    obj = {
        "a": np.float64("inf"),
        "b": [-np.inf, float("nan")],
        "c": np.array([1.0, np.nan]),
        "d": (np.int64(3), 0.5, None, True, "x"),
    }
    assert strict(cli.to_json(obj)) == {
        "a": "Infinity",
        "b": ["-Infinity", "NaN"],
        "c": [1.0, "NaN"],
        "d": [3, 0.5, None, True, "x"],
    }
    with pytest.raises(TypeError, match="set"):
        cli.to_json({"s": {1}})


def test_report_results_json_is_strict_too(tmp_path):
    """results.json (compare's report) uses the same convention as --json: one place."""
    from initlab.report.html import write_page

    paths = write_page(tmp_path, "<html></html>", {"x": np.float64("nan"), "y": [np.inf, 1.5]})
    assert strict(paths["json"].read_text()) == {"x": "NaN", "y": ["Infinity", 1.5]}
