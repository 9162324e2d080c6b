"""The contract with a careless or hostile user (issue 17): bad input to any command is one line
on stderr and exit code 2, never a traceback; user code that exits is an error, not a success;
requests the machine cannot hold or finish are refused before anything is allocated; a run
whose cost becomes NaN or inf says so."""

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from initlab import cli, limits
from initlab.errors import InitlabError

from .conftest import run

CLI = [sys.executable, "-m", "initlab.cli"]


# ------------------------------------------------------------------------- the files
TORCH_FACTORIES = """
import sys
import torch
from torch import nn

def make():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

def exits():
    sys.exit(0)

def interrupts():
    raise KeyboardInterrupt

def nan_weights():
    m = make()
    with torch.no_grad():
        m[0].weight[0, 0] = float("nan")
    return m

class Dict(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return {"hidden": self.fc(x)}  # a dict without logits: the audit needs --output-key

def returns_dict():
    return Dict()

class Exits(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        sys.exit(3)

def forward_exits():
    return Exits()
"""

LEARNER_EXITS_IN_FUNCTION = """
import sys
import numpy as np

def initialize_parameters_zeros(layers_dims):
    sys.exit(0)
"""


def make_files(d: Path) -> None:
    """Every bad file the table names, written into ``d``."""
    rng = np.random.default_rng(0)
    np.savez(d / "object.npz", X=np.array([[1, 2], [3, 4]], dtype=object), y=np.array([0, 1]))
    y = np.array([0.0, 1.0] * 5)
    y[7] = np.nan
    np.savez(d / "nan_labels.npz", X=rng.standard_normal((10, 2)), y=y)
    np.save(d / "array.npy", np.zeros((3, 3)))
    os.replace(d / "array.npy", d / "array_named.npz")
    np.savez(
        d / "complex.npz", X=rng.standard_normal((10, 2)) + 1j * rng.standard_normal((10, 2)), y=np.array([0, 1] * 5)
    )
    np.savez(d / "no_y.npz", X=rng.standard_normal((10, 2)))
    (d / "garbage.npz").write_bytes(b"this is not a zip archive at all")
    os.mkfifo(d / "fifo.csv")  # reading it would wait for a writer forever
    (d / "folder.csv").mkdir()
    (d / "latin1.csv").write_bytes("x1,x2,label\n1,2,caf\xe9\n3,4,b\n5,6,caf\xe9\n7,8,b\n".encode("latin-1"))
    (d / "ragged.csv").write_text("1,2,0\n3,4,1\n5,1\n")
    (d / "empty.csv").write_text("")
    (d / "text_cell.csv").write_text("1,2,0\n3,abc,1\n5,6,0\n")
    (d / "inf_cell.csv").write_text("1,2,0\n3,inf,1\n5,6,0\n")
    (d / "one_class.csv").write_text("1,2,0\n3,4,0\n5,6,0\n")
    (d / "empty_label.csv").write_text("1,2,0\n3,4,\n5,6,1\n7,8,0\n")
    (d / "data.txt").write_text("1,2,0\n")
    (d / "exits.py").write_text("import sys\nsys.exit(0)\n")
    (d / "exits_1.py").write_text("raise SystemExit('bye')\n")
    (d / "interrupts.py").write_text("raise KeyboardInterrupt\n")
    (d / "raises.py").write_text("raise ValueError('broken on purpose')\n")
    (d / "nothing.py").write_text("x = 1\n")
    (d / "learner_exits.py").write_text(LEARNER_EXITS_IN_FUNCTION)
    (d / "notes.txt").write_text("not python\n")
    (d / "models.py").write_text(TORCH_FACTORIES)
    (d / "a_file").write_text("I am a file, not a folder\n")
    (d / "a_folder").mkdir()


#: (argv, words the one line must hold); ``{d}`` is the folder of `make_files`. Every command of
#: `initlab --help` but sweep and dashboard (their own tests cover them) appears.
BAD = [
    # train: initializer specs
    (["train", "--init", "hee"], "did you mean he"),
    (["train", "--init", "random:-1"], "> 0"),
    (["train", "--init", "constant:nan"], "'constant:nan'"),
    (["train", "--init", "constant:inf"], "finite"),
    (["train", "--init", "random:"], "empty argument"),
    (["train", "--init", "variance_scaling:2,,uniform"], "empty argument"),
    (["train", "--init", "random:1e308", "--layers", "2,100,1", "--seed", "0"], "not finite"),
    (["train", "--init", "he:2"], "takes at most 0"),
    (["train", "--init", "random:abc"], "expected a number"),
    # train: layers, activations, numbers
    (["train", "--layers", "2,0,1"], "width 0"),
    (["train", "--layers", "2,x,1"], "comma-separated integers"),
    (["train", "--layers", "3,4,1"], "layers 3,4,1 do not fit flower: it has 2 features"),
    (["train", "--layers", "2,4,3"], "needs 1 output unit(s) (2 classes)"),
    (["train", "--hidden", "nope"], "unknown hidden activation"),
    (["train", "--output", "nope"], "unknown output activation"),
    (["train", "--lr", "0"], "lr must be"),
    (["train", "--lr", "nan"], "lr must be"),
    (["train", "--iterations", "-1"], "iterations must be"),
    (["train", "--seed", "-1"], "seed must be an integer from 0 to 2**63 - 1"),
    (["train", "--seed", "99999999999999999999999"], "seed must be an integer from 0 to 2**63 - 1"),
    (["compare", "--seeds", "3,18446744073709551616"], "from 0 to 2**63 - 1"),
    (["train", "--data-seed", "-1"], "data seed"),
    (["train", "--no-such-option"], "No such option"),
    # train: requests too large
    (["train", "--layers", "2,30000,30000,1", "--iterations", "10000"], "--max-"),  # memory or work
    (["train", "--layers", "2,30000,30000,1", "--iterations", "10000", "--max-memory", "none"], "multiply-adds"),
    (["train", "--layers", "2,30000,30000,1", "--iterations", "10", "--max-memory", "1GB"], "--max-memory"),
    (["train", "--layers", "2,100000000,1"], "of memory"),
    (["train", "--iterations", "1000000000000"], "--max-work"),
    (["train", "--max-memory", "lots"], "--max-memory takes a size"),
    (["train", "--max-work", "-3"], "--max-work must be"),
    # train: data files
    (["train", "--data", "nope.csv"], "does not exist"),
    (["train", "--data", "nosuchset"], "unknown data set"),
    (["train", "--data", "{d}/data.txt"], "expected a .csv or .npz"),
    (["train", "--data", "{d}/fifo.csv"], "is not a regular file"),
    (["train", "--data", "{d}/folder.csv"], "is not a regular file"),
    (["train", "--data", "{d}/object.npz", "--layers", "2,1"], "object arrays"),
    (["train", "--data", "{d}/nan_labels.npz", "--layers", "2,1"], "y has NaN"),
    (["train", "--data", "{d}/array_named.npz", "--layers", "2,1"], "a .npy array"),
    (["train", "--data", "{d}/complex.npz", "--layers", "2,1"], "complex"),
    (["train", "--data", "{d}/no_y.npz", "--layers", "2,1"], "lacks array 'y'"),
    (["train", "--data", "{d}/garbage.npz", "--layers", "2,1"], "cannot read"),
    (["train", "--data", "{d}/latin1.csv", "--layers", "2,1"], "not UTF-8"),
    (["train", "--data", "{d}/ragged.csv", "--layers", "2,1"], "line 3"),
    (["train", "--data", "{d}/empty.csv", "--layers", "2,1"], "is empty"),
    (["train", "--data", "{d}/text_cell.csv", "--layers", "2,1"], "'abc' is not a number"),
    (["train", "--data", "{d}/inf_cell.csv", "--layers", "2,1"], "not finite"),
    (["train", "--data", "{d}/one_class.csv", "--layers", "2,1"], "at least 2"),
    (["train", "--data", "{d}/empty_label.csv", "--layers", "2,1"], "line 2: the label is empty"),
    # init
    (["init", "he", "--shape", "0,3"], "positive integer"),
    (["init", "he", "--shape", "4"], "at least 2 axes"),
    (["init", "he", "--shape", "a,b"], "comma-separated integers"),
    (["init", "he", "--shape", "4,3", "--seed", "-5"], "from 0 to 2**63 - 1"),
    (["init", "he", "--seed", "-1"], "from 0 to 2**63 - 1"),
    (["init", "nope"], "unknown initializer"),
    (["init", "constant:"], "empty argument"),
    (["init", "random:1e308", "--shape", "100,100"], "not finite"),
    (["init", "he", "--shape", "100000,100000,100"], "of memory"),
    # compare
    (["compare", "--seeds", "0"], "at least 1"),
    (["compare", "--seeds", "a"], "--seeds takes"),
    (["compare", "--seeds", "-1,2"], "from 0 to 2**63 - 1"),
    (["compare", "--seeds", "100000000"], "--seeds"),
    (["compare", "--inits", "zeros,zeros"], "repeat"),
    (["compare", "--inits", ","], "empty entry"),
    (["compare", "--inits", "he,,xavier"], "empty entry"),
    (["compare", "--layers", "2,10,5,3"], "do not fit circles"),
    (["compare", "--lr", "-1"], "lr must be"),
    (["compare", "--iterations", "1000000000000"], "--max-work"),
    (["compare", "--report", "{d}/a_file"], "is a file"),
    (["compare", "--report", "{d}/a_file/sub"], "cannot create"),
    (["compare", "--inits", "he", "--course-table"], "course table needs"),
    # deep
    (["deep", "--train-examples", "-5"], "--train-examples"),
    (["deep", "--depth", "1"], "at least 2"),
    (["deep", "--width", "0"], "width must be"),
    (["deep", "--depth", "100000"], "--max-"),
    (["deep", "--inits", "nope"], "unknown initializer"),
    (["deep", "--iterations", "-2"], "iterations must be"),
    (["deep", "--lr", "0"], "lr must be"),
    (["deep", "--report", "{d}/a_file"], "is a file"),
    # theory
    (["theory", "--measure", "--batch", "0"], "--batch"),
    (["theory", "--measure", "--networks", "1"], "at least 2 networks"),
    (["theory", "--measure", "--width", "0"], "--width"),
    (["theory", "--measure", "--depth", "0"], "--depth"),
    (["theory", "--measure", "--depth", "1000000"], "of memory"),
    (["theory", "--measure", "--init", "nope"], "unknown initializer"),
    (["theory", "--activation", "nope"], "unknown activation"),
    (["theory", "--sigma-w2", "-1"], "sigma_w2"),
    (["theory", "--sigma-b2", "nan"], "sigma_b2"),
    (["theory", "--critical", "--sigma-b2", "-1"], "sigma_b2 >= 0, got -1.0"),
    (["theory", "--phase-diagram", "{d}/a_file/x.png"], "cannot create"),
    (["theory", "--phase-diagram", "{d}/a_folder"], "is a folder"),
    (["theory", "--measure", "--depth", "3", "--width", "4", "--plot", "{d}/a_file/p.png"], "cannot create"),
    # course check
    (["course", "check", "{d}/exits.py"], "sys.exit(0)"),
    (["course", "check", "{d}/exits_1.py"], "sys.exit('bye')"),
    (["course", "check", "{d}/interrupts.py"], "KeyboardInterrupt"),
    (["course", "check", "{d}/raises.py"], "ValueError: broken on purpose"),
    (["course", "check", "{d}/nothing.py"], "defines none of the course's functions"),
    (["course", "check", "{d}/learner_exits.py", "--module", "initialization"], "called sys.exit(0)"),
    (["course", "check", "{d}/missing.py"], "does not exist"),
    (["course", "check", "{d}/notes.txt"], "not a Python file"),
    (["course", "check", "{d}/nothing.py", "--module", "nope"], "unknown course module"),
    # audit (PyTorch)
    (["audit", "{d}/models.py:exits", "--input-shape", "2,4"], "called sys.exit(0)"),
    (["audit", "{d}/models.py:interrupts", "--input-shape", "2,4"], "KeyboardInterrupt"),
    (["audit", "{d}/models.py:nan_weights", "--input-shape", "2,4"], "0.weight"),
    (["audit", "{d}/models.py:returns_dict", "--input-shape", "2,4"], "returned a dict"),
    (["audit", "{d}/models.py:forward_exits", "--input-shape", "2,4"], "sys.exit(3)"),
    (["audit", "{d}/models.py:make", "--input-shape", "2,4", "--checkpoint", "{d}/a_folder"], "is a folder"),
    (["audit", "{d}/models.py:make", "--input-shape", "0,4"], "positive sizes"),
    (["audit", "{d}/models.py:make", "--input-shape", "2,4", "--report", "{d}/a_file"], "is a file"),
    (["audit", "{d}/exits.py:make", "--input-shape", "2,4"], "sys.exit(0)"),
    # coord-check (PyTorch)
    (["coord-check", "{d}/models.py:make", "--widths", "64,x", "--input-shape", "2,4"], "--widths"),
    (["coord-check", "{d}/models.py:nothing", "--input-shape", "2,4"], "has no function 'nothing'"),
    # demo, its stories, reproduce, the top level
    (["demo", "--seeds", "0"], "at least 1"),
    (["demo", "--iterations", "-1"], "iterations must be"),
    (["demo", "--iterations", "1000000000000"], "--max-work"),
    (["demo", "--report", "{d}/a_file"], "is a file"),
    (["demo", "walkthrough", "--updates", "-1"], "--updates"),
    (["demo", "symmetry", "--iterations", "-3"], "iterations must be"),
    (["demo", "saturation", "--iterations", "1000000000000"], "--max-"),
    (["reproduce", "nope"], "unknown experiment"),
    (["reproduce"], "Missing argument"),
    (["nosuchcommand"], "No such command"),
]


def _ids():
    seen: dict[str, int] = {}
    out = []
    for argv, _ in BAD:
        key = " ".join(argv).replace("{d}/", "")[:60]
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f"{key} #{seen[key]}")
    return out


def test_the_table_covers_every_command_with_60_distinct_inputs():
    import typer

    assert len({tuple(a) for a, _ in BAD}) == len(BAD) >= 60
    commands = set(typer.main.get_command(cli.app).commands) - {"sweep", "dashboard"}
    assert commands <= {a[0] for a, _ in BAD}


@pytest.mark.parametrize("argv, words", BAD, ids=_ids())
def test_bad_input_is_one_line_and_exit_2(argv, words, tmp_path, capsys, monkeypatch):
    if argv[0] == "audit":
        pytest.importorskip("torch")
    make_files(tmp_path)
    monkeypatch.chdir(tmp_path)  # any folder a command writes by default lands here
    # a safety net for this test: a refusal that failed would allocate at most this much
    monkeypatch.setenv(limits.ENV_MEMORY, "4GB")
    argv = [a.format(d=tmp_path) for a in argv]
    if argv[0] == "train" and "--iterations" not in argv:
        argv += ["--iterations", "1"]
    start = time.perf_counter()
    code, out, err = run(argv, capsys)
    seconds = time.perf_counter() - start
    assert code == 2, (code, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert words in err, err
    assert "Traceback" not in err and out == ""
    assert seconds < 60, f"took {seconds:.1f} s to refuse"


# ----------------------------------------------------------------- user code that exits
def test_learner_file_that_exits_is_not_a_pass(tmp_path):
    """sys.exit(0) at import made `course check` print nothing and exit 0: an auto-grader's pass."""
    f = tmp_path / "hw.py"
    f.write_text("import sys\nsys.exit(0)\n")
    p = subprocess.run([*CLI, "course", "check", str(f)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "sys.exit(0)" in p.stderr and str(f) in p.stderr


def test_keyboard_interrupt_raised_by_user_code_is_exit_2(tmp_path):
    f = tmp_path / "hw.py"
    f.write_text("raise KeyboardInterrupt\n")
    p = subprocess.run([*CLI, "course", "check", str(f)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "KeyboardInterrupt" in p.stderr and p.stderr.count("\n") == 1


def _interrupt(argv: list[str], *, settle: float = 1.0) -> subprocess.CompletedProcess:
    """Run ``initlab argv`` in a child that says "ready" on stderr once initlab is imported (or
    once the user's file says it), then send it SIGINT as a terminal's Ctrl-C would."""
    code = f"import sys, initlab.cli; print('ready', file=sys.stderr, flush=True); initlab.cli.main({argv!r})"
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [p.stderr.readline() for _ in range(2 if argv[0] == "course" else 1)]
    assert all(line.strip() == "ready" for line in lines), lines
    time.sleep(settle)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=60)
    finally:  # a child deaf to Ctrl-C must not outlive the test (one trained for an hour)
        if p.poll() is None:
            p.kill()
            p.communicate()
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def test_real_ctrl_c_is_130():
    """A Ctrl-C of initlab itself (SIGINT while it trains) is 130, no traceback. At 3 s the
    compiled kernel is running (1 s landed before training began when the machine was quiet):
    one kernel call of 1e8 iterations was deaf to Ctrl-C for its whole run."""
    p = _interrupt(["train", "--iterations", "100000000", "--seed", "0", "--json"], settle=3.0)
    assert p.returncode == 130, p.stderr
    assert "Traceback" not in p.stderr


def test_real_ctrl_c_during_user_code_is_130_not_2(tmp_path):
    """A real SIGINT that lands while the learner's file runs is still the user's Ctrl-C."""
    f = tmp_path / "slow.py"
    f.write_text("import sys, time\nprint('ready', file=sys.stderr, flush=True)\ntime.sleep(60)\n")
    p = _interrupt(["course", "check", str(f)])
    assert p.returncode == 130, p.stderr
    assert "Traceback" not in p.stderr


# -------------------------------------------------------------------------- limits
def test_refusing_a_huge_network_is_fast_and_allocates_nothing():
    """2,30000,30000,1 took 52 s and 7.8 GB before failing."""
    start = time.perf_counter()
    p = subprocess.run([*CLI, "train", "--layers", "2,30000,30000,1"], capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - start
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--max-" in p.stderr
    assert took < 10, f"{took:.1f} s"


def test_library_network_construction_fails_fast():
    from initlab.nn import Network

    start = time.perf_counter()
    with pytest.raises(limits.LimitError, match="of memory"):
        Network([2, 10**10, 1])  # 240 GB of parameters
    with limits.limit(max_memory="1GB"), pytest.raises(limits.LimitError, match=r"limit is 1 GB \(max_memory=\)"):
        Network([2, 100_000_000, 1])  # 2.4 GB
    with pytest.raises(limits.LimitError, match="ensemble of"):
        Network([2, 10, 1], ensemble=10**9)
    assert time.perf_counter() - start < 2


def test_library_fit_refuses_work_and_memory(toy):
    from initlab.nn import Network

    X, Y = toy
    net = Network([3, 4, 1], seed=0)
    with pytest.raises(limits.LimitError, match="multiply-adds"):
        net.fit(X, Y, lr=0.1, iterations=10**12)
    with limits.limit(max_memory=1000), pytest.raises(limits.LimitError, match="forward caches|gradients"):
        net.fit(X, Y, lr=0.1, iterations=1)
    with limits.limit(max_work="none"):  # raised: the check passes (nothing is run here)
        limits.check(limits.training([3, 4, 1], examples=20, iterations=10**12))


def test_limits_from_the_environment(monkeypatch, toy):
    from initlab.nn import Network

    monkeypatch.setenv(limits.ENV_WORK, "1e3")
    with pytest.raises(limits.LimitError, match=limits.ENV_WORK):
        Network([3, 4, 1]).fit(*toy, lr=0.1, iterations=100)
    monkeypatch.setenv(limits.ENV_WORK, "many")
    with pytest.raises(InitlabError, match="INITLAB_MAX_WORK takes"):
        limits.current()
    monkeypatch.delenv(limits.ENV_WORK)
    monkeypatch.setenv(limits.ENV_MEMORY, "100B")
    with pytest.raises(limits.LimitError, match=r"the limit is 100 B \(INITLAB_MAX_MEMORY\)"):
        Network([3, 4, 1])


def test_limit_flags_raise_the_limits(capsys):
    code, out, err = run(
        ["train", "--iterations", "2", "--max-work", "1e20", "--max-memory", "none", "--seed", "0", "--json"], capsys
    )
    assert code == 0, err


def test_available_memory_reads_meminfo_and_falls_back(monkeypatch, tmp_path):
    f = tmp_path / "meminfo"
    f.write_text("MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   2000000 kB\n")
    assert limits._meminfo_available(str(f)) == 2000000 * 1024
    assert limits._meminfo_available(str(tmp_path / "none")) is None
    monkeypatch.setattr(limits, "_meminfo_available", lambda: None)
    assert limits.available_memory() > 0


@pytest.mark.parametrize(
    "text, value",
    [("64GB", 64e9), ("512MiB", 512 * 2**20), ("1e10", 1e10), ("2 kB", 2e3), ("none", math.inf), (4096, 4096.0)],
)
def test_parse_memory(text, value):
    assert limits.parse_memory(text) == value


def test_estimates_are_of_the_right_size():
    """The estimate of 2,30000,30000,1 on the flower: 7.2 GB of parameters, the same again in
    gradients; on a small network, the peak tracemalloc measures (12.7 MB against 12.1 MB estimated
    when written) within a factor 2 or 3."""
    import tracemalloc

    from initlab.nn import Network

    e = limits.training([2, 30000, 30000, 1], examples=400, iterations=10)
    assert 7.1e9 < e.memory["parameters"] < 7.3e9 and e.memory["gradients"] >= e.memory["parameters"]
    assert e.work == pytest.approx(10 * 3 * 400 * (60000 + 9e8 + 30000), rel=1e-3)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 500)), (rng.random((1, 500)) > 0.5).astype(float)
    Network([20, 300, 300, 1], seed=0).fit(X, Y, lr=0.01, iterations=1, engine="reference")  # compiled
    net = Network([20, 300, 300, 1], seed=0)
    tracemalloc.start()
    net.fit(X, Y, lr=0.01, iterations=3, engine="reference")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    est = limits.training([20, 300, 300, 1], examples=500, iterations=3).total_memory
    assert peak / 2 < est < peak * 3, (peak, est)


# --------------------------------------------------------------------------- divergence
def test_history_says_where_the_cost_became_nonfinite():
    from initlab.nn import Network

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 50)), (rng.random((1, 50)) > 0.5).astype(float)
    net = Network([2, 4, 1], hidden="relu", init="random:1e200", seed=0)  # Z2 ~ 1e400: inf
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a diverging run is reported, not warned about
        h = net.fit(X, Y, lr=0.1, iterations=10, record_every=1)
    assert h.diverged_at == 0 and h.to_dict()["diverged_at"] == 0
    ok = Network([2, 4, 1], hidden="relu", init="he", seed=0).fit(X, Y, lr=0.1, iterations=10)
    assert ok.diverged_at is None and ok.to_dict()["diverged_at"] is None
    ens = Network([2, 4, 1], hidden="relu", init=["he", "random:1e200"], seed=[0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        h = ens.fit(X, Y, lr=0.1, iterations=10, record_every=1)
    assert h.diverged_at == [None, 0]


def test_history_diverged_at_is_the_first_nonfinite_record():
    from initlab.nn.network import History

    h = History(np.array([0, 5, 10, 15]), np.array([0.7, 0.6, np.inf, np.nan]), 0.1)
    assert h.diverged_at == 10
    h = History(np.array([0, 5, 10]), np.array([[0.7, 0.7], [0.6, np.nan], [0.5, np.nan]]), 0.1)
    assert h.diverged_at == [None, 5]


def test_train_that_diverges_says_so_and_exits_nonzero():
    """Weights of 1e200 under ReLU: the output overflows; it trained to 'Final cost: nan', exit 0."""
    argv = [*CLI, "train", "--hidden", "relu", "--init", "random:1e200", "--iterations", "20", "--seed", "0"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stderr
    assert "RuntimeWarning" not in p.stderr and "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1 and "diverged" in p.stderr and "iteration 0" in p.stderr
    p = subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and json.loads(p.stdout)["diverged_at"] == 0
    assert "RuntimeWarning" not in p.stderr


def test_compare_with_a_diverging_run_says_so_and_exits_nonzero(capsys):
    """A NaN in the table read as success (exit 0, nothing on stderr); found by a new-user trial.
    In process (the CLI's own main; test_real_ctrl_c_is_130 and others start real processes)."""
    argv = [
        "compare",
        "--data",
        "circles",
        "--layers",
        "2,10,1",
        "--inits",
        "he,random:1e150",
        "--lr",
        "1e6",
        "--iterations",
        "50",
        "--seeds",
        "1",
    ]
    for extra in ([], ["--json"]):
        code, out, err = run([*argv, *extra], capsys)
        assert code == 1, err
        assert err.count("\n") == 1 and "diverged: 1 of 2 runs" in err
        assert "random:1e150 seed 0 at iteration" in err and "Traceback" not in err


# ---------------------------------------------------------------------------- data files
def test_csv_with_byte_order_mark_keeps_its_first_row(tmp_path):
    from initlab import data

    rows = "1,2,0\n3,4,1\n5,6,0\n7,8,1\n1,1,0\n2,2,1\n"
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + rows.encode())
    (tmp_path / "plain.csv").write_text(rows)
    a, b = data.load(tmp_path / "bom.csv"), data.load(tmp_path / "plain.csv")
    assert a.X_train.shape[1] + a.X_test.shape[1] == 6
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.Y_train, b.Y_train)


def test_csv_with_byte_order_mark_and_header(tmp_path):
    from initlab import data

    (tmp_path / "h.csv").write_bytes(b"\xef\xbb\xbflabel,x1,x2\na,1,2\nb,3,4\na,5,6\nb,7,8\n")
    ds = data.load(tmp_path / "h.csv")
    assert ds.n_x == 2 and ds.classes == ["a", "b"]


# ---------------------------------------------------------------------------- outputs
def test_output_folder_on_a_read_only_filesystem(tmp_path, capsys, monkeypatch):
    """EROFS (as root, chmod does not stop writes: the error is simulated at mkdir)."""
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if "ro" in self.parts:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    for argv in (
        ["compare", "--iterations", "2", "--seeds", "1", "--report", f"{tmp_path}/ro/x"],
        ["deep", "--depth", "2", "--iterations", "1", "--report", f"{tmp_path}/ro/x"],
        ["theory", "--phase-diagram", f"{tmp_path}/ro/x.png"],
    ):
        start = time.perf_counter()
        code, out, err = run(argv, capsys)
        assert code == 2 and err.count("\n") == 1 and "Read-only file system" in err, err
        assert f"{tmp_path}/ro/x" in err and out == ""
        assert time.perf_counter() - start < 10  # refused before the run, not after it


def test_compare_and_deep_report_divergence_without_warnings():
    """Each diverged run is named (compare: diverged_at, deep: its verdict); NumPy's warnings
    were printed, and deep's sigma_w2 of random:1e200 raised OverflowError."""
    from initlab.experiments.compare import CompareConfig, compare
    from initlab.experiments.deep import DeepConfig, deep

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        r = compare(
            CompareConfig(
                data="circles", layers=(2, 4, 1), hidden="relu", inits=("he", "random:1e200"), iterations=3, seeds=(0,)
            )
        )
        assert [x.diverged_at for x in r.runs] == [None, 0]
        assert r.to_dict()["results"][1]["diverged_at"] == 0
        d = deep(DeepConfig(depth=3, width=8, inits=("he", "random:1e200"), iterations=3, train_examples=50))
        assert [x["verdict"] for x in d.runs][1] == "diverged"
