"""The command line: arguments map to the library call, JSON is one object, errors are one
line on stderr with exit code 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

from initlab import cli

from .conftest import run


def test_train_maps_arguments(monkeypatch, capsys):
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return {
            "config": {},
            "costs": [[0, 0.7], [5, 0.5]],
            "final_cost": 0.5,
            "train_accuracy": 1.0,
            "test_accuracy": 0.5,
        }

    monkeypatch.setattr(cli, "train_run", fake)
    code, out, _ = run(
        [
            "train",
            "--data",
            "moons",
            "--layers",
            "2,8,1",
            "--hidden",
            "relu",
            "--init",
            "he",
            "--lr",
            "0.3",
            "--iterations",
            "5",
            "--seed",
            "7",
            "--json",
        ],
        capsys,
    )
    assert code == 0 and json.loads(out)["train_accuracy"] == 1.0
    assert seen == {
        "data": "moons",
        "layers": [2, 8, 1],
        "hidden": "relu",
        "output": None,
        "init": "he",
        "lr": 0.3,
        "iterations": 5,
        "seed": 7,
        "data_seed": None,
        "progress": False,
        "residual": None,
        "gate": None,
        "norm": None,
    }


def test_limit_flags_map_to_the_library_limits(monkeypatch, capsys):
    """--max-memory and --max-work set initlab.limits for the call; the messages then name them."""
    from initlab import limits

    seen = {}

    def fake(**kwargs):
        seen["limits"] = limits.current()
        return {
            "config": {},
            "costs": [[0, 0.7]],
            "final_cost": 0.7,
            "diverged_at": None,
            "train_accuracy": 1.0,
            "test_accuracy": 0.5,
        }

    monkeypatch.setattr(cli, "train_run", fake)
    code, _, _ = run(["train", "--max-memory", "2GB", "--max-work", "1e9", "--json"], capsys)
    assert code == 0 and seen["limits"] == (2e9, 1e9, "--max-memory", "--max-work")
    assert limits.current()[2:] == ("available", "default")  # only for the call


def test_train_json_real_run(capsys):
    code, out, _ = run(
        [
            "train",
            "--data",
            "flower",
            "--layers",
            "2,4,1",
            "--init",
            "random:0.01",
            "--lr",
            "1.2",
            "--iterations",
            "300",
            "--seed",
            "3",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    r = json.loads(out)
    assert {"config", "costs", "train_accuracy", "test_accuracy"} <= set(r)
    assert r["config"]["init"] == "random:0.01" and r["config"]["layers"] == [2, 4, 1]
    assert 0 <= r["train_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1
    assert r["costs"][0][0] == 0 and r["costs"][-1][0] == 300
    assert r["costs"][-1][1] < r["costs"][0][1]


def test_init_json_statistics(capsys):
    code, out, _ = run(["init", "he", "--shape", "512,256", "--seed", "0", "--json"], capsys)
    r = json.loads(out)
    assert code == 0 and r["formula"]["fan_in"] == 256 and r["formula"]["fan_out"] == 512
    assert r["sample"]["std"] == pytest.approx(r["formula"]["std"], rel=0.02)
    assert {"mean", "std", "min", "max"} <= set(r["sample"])


def test_init_uniform_reports_bound(capsys):
    _, out, _ = run(["init", "glorot_uniform", "--shape", "300,200", "--json"], capsys)
    r = json.loads(out)
    assert r["sample"]["max"] <= r["formula"]["bound"]


def test_init_list_and_explain(capsys):
    code, out, _ = run(["init", "--list"], capsys)
    assert code == 0 and "random[:SCALE]" in out and "glorot_uniform" in out
    code, out, _ = run(["init", "he_normal", "--explain"], capsys)
    assert "kaiming_normal_" in out and "truncated" in out


# Bad input to every command (one line on stderr, exit 2, no traceback): the table BAD in
# tests/test_reliability.py, one table for the whole CLI.


def test_console_script_smoke():
    """The installed `initlab` entry point, as a user runs it."""
    p = subprocess.run(
        [sys.executable, "-m", "initlab.cli", "train", "--iterations", "50", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0 and json.loads(p.stdout)["config"]["data"] == "flower"
    p = subprocess.run(
        [sys.executable, "-m", "initlab.cli", "train", "--init", "nope"], capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 2 and p.stderr.startswith("error: unknown initializer")


def test_import_initlab_is_numpy_only():
    code = (
        "import sys, initlab; bad = [m for m in ('torch', 'matplotlib', 'sklearn', 'typer',"
        " 'rich', 'scipy') if m in sys.modules]; print(bad)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "[]"


def test_output_default_is_one_rule_for_library_and_cli(capsys):
    """Sigmoid for one output unit, softmax for more: in Network, and the CLI uses the same."""
    from initlab import data
    from initlab.nn import Network

    assert Network([2, 4, 1]).output == "sigmoid"
    net = Network([64, 50, 10])
    assert net.output == "softmax" and net.loss.name == "cross_entropy"
    multi = Network([64, 50, 10], output="sigmoid")  # multi-label stays possible, by name
    assert multi.output == "sigmoid" and multi.loss.name == "binary_cross_entropy"

    ds = data.load("digits")
    lib = Network([64, 16, 10], hidden="relu", init="he", seed=0)
    lib.fit(ds.X_train, ds.Y_train, lr=0.1, iterations=100)
    right = lib.forward(ds.X_test)[0].argmax(axis=0) == ds.Y_test.argmax(axis=0)
    assert lib.accuracy(ds.X_test, ds.Y_test) == pytest.approx(right.mean()) and right.mean() > 0.5
    code, out, _ = run(
        [
            "train",
            "--data",
            "digits",
            "--layers",
            "64,16,10",
            "--hidden",
            "relu",
            "--init",
            "he",
            "--lr",
            "0.1",
            "--iterations",
            "100",
            "--seed",
            "0",
            "--json",
        ],
        capsys,
    )
    r = json.loads(out)
    assert code == 0 and r["config"]["output"] == "softmax" and r["config"]["loss"] == "cross_entropy"
    assert r["test_accuracy"] == lib.accuracy(ds.X_test, ds.Y_test)
    assert r["train_accuracy"] == lib.accuracy(ds.X_train, ds.Y_train)


def test_train_without_seed_draws_prints_and_records_one(capsys):
    """Every run can be rerun: the drawn seed is in --json and on the first text line."""
    args = ["train", "--data", "moons", "--layers", "2,4,1", "--init", "he", "--iterations", "20"]
    _, out, _ = run([*args, "--json"], capsys)
    first = json.loads(out)
    seed = first["config"]["seed"]
    assert isinstance(seed, int) and 0 <= seed < 2**32
    _, out, _ = run([*args, "--json", "--seed", str(seed)], capsys)
    again = json.loads(out)
    assert again["costs"] == first["costs"] and again["config"] == first["config"]
    _, text, _ = run(args, capsys)
    line = text.splitlines()[0]
    drawn = int(line.split()[1])
    assert line == f"seed: {drawn} (rerun with --seed {drawn})"
    _, rerun, _ = run([*args, "--seed", str(drawn)], capsys)
    assert rerun == text


def test_demo_symmetry_reason_is_the_measured_zero_factor(capsys):
    """dW1 = (W2^T dZ2 * g'(Z1)) X^T / m: the printed reason names exactly the factors that are 0.
    From zeros, W2 = 0 for every activation; g'(Z1) = g'(0) is 0 only for ReLU (tanh'(0) = 1)."""
    from initlab.nn import ACTIVATIONS

    code, out, _ = run(["demo", "symmetry", "--iterations", "20", "--json"], capsys)
    rows = {r["activation"]: r for r in json.loads(out)["per_activation"]}
    assert code == 0 and {"sigmoid", "tanh", "relu"} <= set(rows)
    for act, r in rows.items():
        g0 = float(ACTIVATIONS[act].grad(np.zeros(1))[0])
        f = r["factors_at_init"]
        assert f["zero"]["W2"] and f["zero"]["g'(Z1)"] == (g0 == 0) and f["values"]["g'(Z1)"] == f"{g0:g}"
        assert "g'(0) = 0" not in r["sentence"]
        if float(ACTIVATIONS[act].fn(np.zeros(1))[0]) != 0:  # g(0) != 0 (sigmoid, softplus): learns as one unit
            assert not f["zero"]["A1"] and r["learned"] == ["W1", "b1", "W2", "b2"] and "ONE unit" in r["sentence"]
            continue
        assert r["learned"] == ["b2"] and f["zero"]["A1"]
        assert ("because W2 = 0 and g'(Z1) = 0" in r["sentence"]) == (g0 == 0)
        assert ("because W2 = 0 (g'(Z1) = " in r["sentence"]) == (g0 != 0)
    assert "g'(Z1) = 1: not the reason" in rows["tanh"]["sentence"]


def test_zero_gradient_factors_names_g_prime_when_w2_is_not_zero():
    from initlab.experiments.demos import zero_gradient_factors
    from initlab.nn import Network

    X, Y = np.array([[1.0, -2.0, 0.5]]), np.array([[1.0, 0.0, 1.0]])
    dead = {"W1": np.zeros((2, 1)), "b1": -np.ones((2, 1)), "W2": np.ones((1, 2)), "b2": np.zeros((1, 1))}
    f = zero_gradient_factors(Network([1, 2, 1], hidden="relu", params=dead), X, Y)
    assert f["reason"].startswith("dW1 = (W2^T dZ2 * g'(Z1)) X^T / m is 0 because g'(Z1) = 0 (W2 = 1: not the reason)")
    alive = {**dead, "b1": np.ones((2, 1))}
    assert zero_gradient_factors(Network([1, 2, 1], hidden="tanh", params=alive), X, Y)["reason"] == (
        "no factor of dW1 or dW2 is 0 at the start"
    )


def test_version_and_notebook_tables(capsys):
    """`initlab --version`; results show as tables in a notebook without install()."""
    import numpy as np

    import initlab
    from initlab import Network, saturation, symmetry

    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"initlab {initlab.__version__}"
    net = Network([2, 3, 1], init="zeros", seed=0)
    X, Y = np.ones((2, 4)), np.ones((1, 4))
    h = net.fit(X, Y, lr=0.1, iterations=3)
    for obj in (h, symmetry(net), saturation(net, X)):
        page = obj._repr_html_()
        assert "<table" in page, type(obj).__name__
