"""The command line: each command parses strings, calls the library, and prints.

Every command takes ``--json`` (one machine-readable object on stdout). Bad input is one line
on stderr, ``error: ...``, and exit code 2: no traceback.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Sequence
from typing import Annotated

import numpy as np
import typer

from initlab import data as datasets
from initlab import initializers, limits
from initlab.errors import InitlabError, parse_ints
from initlab.nn import HIDDEN
from initlab.report.strict_json import to_json

#: the help of every option that takes a hidden activation: the table's rows, never a list here
HIDDEN_HELP = "hidden activation: " + HIDDEN.usage()

app = typer.Typer(
    help="initlab: neural-network weight initialization, measured.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from initlab import __version__

        print(f"initlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="print initlab's version and exit", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    """initlab: neural-network weight initialization, measured."""


# ----------------------------------------------------------------------------- helpers
def emit_json(obj: dict) -> None:
    """One strict JSON object on stdout (see ``to_json``)."""
    sys.stdout.write(to_json(obj) + "\n")


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def progress_bar(total: int, *, show: bool = True, cost: bool = False):
    """A rich progress bar on stderr while the block runs; yields the ``callback(i, cost)`` that
    moves it, or None when not shown (``show=False``, or stderr is not a terminal)."""
    if not show or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total}")]
    if cost:
        columns.append(TextColumn("cost {task.fields[cost]}"))
    bar = Progress(*columns, TimeRemainingColumn(), console=_stderr_console(), transient=True)
    task = bar.add_task("training", total=total, cost="-")

    def callback(i: int, c) -> None:
        bar.update(task, completed=i, cost=f"{float(np.mean(c)):.6f}")

    with bar:
        yield callback


MaxMemory = Annotated[
    str | None,
    typer.Option(
        "--max-memory",
        help=f"refuse to start beyond this much memory, e.g. 64GB or none (default: what is "
        f"available; env {limits.ENV_MEMORY})",
    ),
]
MaxWork = Annotated[
    str | None,
    typer.Option(
        "--max-work",
        help=f"refuse to start beyond this many multiply-adds, e.g. 1e15 or none (default "
        f"{limits.DEFAULT_MAX_WORK:g}; env {limits.ENV_WORK})",
    ),
]


def budget(max_memory: str | None, max_work: str | None = None):
    """The limits of `initlab.limits` for one command, from its --max-memory and --max-work."""
    return limits.limit(max_memory=limits.parse_memory(max_memory), max_work=limits.parse_work(max_work), cli=True)


def output_folder(path: str, flag: str = "--report") -> str:
    """Create the folder ``path`` now, before the work whose results go there, and check that a
    file can be written in it: a file in the way or a read-only filesystem is one line, not a
    traceback after minutes of training."""
    import os
    import tempfile
    from pathlib import Path

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InitlabError(f"{flag} {path} is a file: name a folder for report.html and results.json")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=".initlab-probe-")
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise InitlabError(
            f"{flag} {path}: cannot create or write the folder: {e.strerror or e}{_where(e, path)}"
        ) from None
    return path


def output_file(path: str, flag: str) -> str:
    """The same for one file (a PNG): its folder is created and writable, the path is not a folder."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        raise InitlabError(f"{flag} {path} is a folder: name the file to write, e.g. {p / 'plot.png'}")
    folder = next((a for a in p.parents if a.exists()), None)
    if folder is not None and not folder.is_dir():
        raise InitlabError(f"{flag} {path}: cannot create its folder: {folder} is a file")
    output_folder(str(p.parent), flag=f"{flag} {path}: its folder")
    return path


def _where(e: OSError, path: str) -> str:
    return f" ({e.filename})" if e.filename and str(e.filename) != str(path) else ""


@contextlib.contextmanager
def writing(path: str, flag: str):
    """Writing the results: an OSError (disk full, the folder removed meanwhile) is one line."""
    try:
        yield
    except OSError as e:
        raise InitlabError(f"{flag} {path}: cannot write: {e.strerror or e}{_where(e, path)}") from None


def train_run(
    *,
    data: str,
    layers: Sequence[int],
    hidden: str,
    output: str | None,
    init: str,
    lr: float,
    iterations: int,
    seed: int | None,
    data_seed: int | None,
    progress: bool = False,
    residual: int | None = None,
    gate: bool | float | None = None,
    norm: str | None = None,
) -> dict:
    """One `RunConfig` from the options, trained by `initlab.experiments.run.train`; the
    ``train --json`` object (`RunResult.to_dict`).

    Without a ``seed`` one is drawn (32 bits from the OS) and recorded, so every run can be rerun.
    """
    from initlab.experiments.run import RunConfig, train

    config = RunConfig(
        data,
        tuple(layers),
        hidden,
        output,
        init,
        lr,
        iterations,
        secrets.randbits(32) if seed is None else seed,
        data_seed=data_seed,
        residual=residual,
        gate=gate,
        norm=norm,
    )
    with progress_bar(iterations, show=progress, cost=True) as callback:
        (result,) = train(config, progress=callback)
    return result.to_dict()


def diverged_line(result: dict, lr_flag: str = "--lr") -> str | None:
    """One line when the run's cost became NaN or inf (`History.diverged_at`), else None."""
    at = result.get("diverged_at")
    if at is None:
        return None
    cost = next((c for i, c in result["costs"] if i == at), None)
    what = "NaN" if cost is None or cost != cost else "inf"
    return (
        f"diverged: the cost became {what} at iteration {at} (the first record that is not finite): "
        f"lower {lr_flag} or the initialization's scale"
    )


ResidualOption = Annotated[
    int | None,
    typer.Option(
        help="a residual MLP: weight layers per branch (blocks S += gate * branch(N(S)); hidden layers 1 + M * blocks)"
    ),
]
GateOption = Annotated[
    bool,
    typer.Option(
        "--gate",
        help="residual: a learned scalar gate per block, starting where the init puts it (1, or 0 for rezero)",
    ),
]
GateValueOption = Annotated[
    float | None,
    typer.Option("--gate-value", help="residual: gates (as --gate) starting at this value (0: ReZero's start)"),
]
NormOption = Annotated[str | None, typer.Option(help="residual: normalize every read of the stream (layernorm)")]


def parse_gate(gate: bool, gate_value: float | None) -> bool | float | None:
    """``--gate`` and ``--gate-value`` as `initlab.nn.network.Network`'s ``gate``: None (no
    gates), True (the init's own start) or the starting value."""
    if gate_value is not None:
        return float(gate_value)
    return True if gate else None


# ---------------------------------------------------------------------------- commands
DATA_HELP = f"built-in set ({', '.join(datasets.names())}) or a .csv/.npz file"
OUTPUT_HELP = "output activation (default: sigmoid for one output unit, softmax for more)"


@app.command()
def train(
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "flower",
    layers: Annotated[str, typer.Option(help="layer sizes n_x,n_1,...,n_L")] = "2,4,1",
    hidden: Annotated[str, typer.Option(help=HIDDEN_HELP)] = "tanh",
    output: Annotated[str | None, typer.Option(help=OUTPUT_HELP)] = None,
    init: Annotated[str, typer.Option(help="initializer spec, see `initlab init --list`")] = "random:0.01",
    lr: Annotated[float, typer.Option(help="learning rate alpha")] = 1.2,
    iterations: Annotated[int, typer.Option(help="gradient-descent steps")] = 10000,
    seed: Annotated[int | None, typer.Option(help="seed of the initialization (default: drawn and printed)")] = None,
    data_seed: Annotated[int | None, typer.Option(help="seed of the data draw (default: the course's sets)")] = None,
    residual: ResidualOption = None,
    gate: GateOption = False,
    gate_value: GateValueOption = None,
    norm: NormOption = None,
    max_memory: MaxMemory = None,
    max_work: MaxWork = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Train one network with gradient descent; print the cost as it goes and the accuracies.
    Exit code 1 when the cost became NaN or inf (the iteration is printed on stderr)."""
    with budget(max_memory, max_work):
        result = train_run(
            data=data,
            layers=parse_ints(layers, "--layers"),
            hidden=hidden,
            output=output,
            init=init,
            lr=lr,
            iterations=iterations,
            seed=seed,
            data_seed=data_seed,
            progress=not as_json,
            residual=residual,
            gate=parse_gate(gate, gate_value),
            norm=norm,
        )
    diverged = diverged_line(result)
    if as_json:
        emit_json(result)
        if diverged:
            print(diverged, file=sys.stderr)
            raise typer.Exit(1)
        return
    seed_used = result["config"]["seed"]
    print(f"seed: {seed_used} (rerun with --seed {seed_used})")
    step = max(1, len(result["costs"]) // 10)
    for i, c in result["costs"][::step]:
        print(f"Cost after iteration {i}: {c:.6f}")
    print(f"Final cost: {result['final_cost']:.6f}")
    print(f"Train accuracy: {100 * result['train_accuracy']:.2f}%")
    print(f"Test accuracy:  {100 * result['test_accuracy']:.2f}%")
    if diverged:
        print(diverged, file=sys.stderr)
        raise typer.Exit(1)


@app.command("init")
def init_cmd(
    name: Annotated[str | None, typer.Argument(help="initializer spec, e.g. he or random:0.01")] = None,
    shape: Annotated[str, typer.Option(help="weight shape fan_out,fan_in (leading axes: batch)")] = "512,256",
    seed: Annotated[int, typer.Option(help="seed of the sample")] = 0,
    list_all: Annotated[bool, typer.Option("--list", help="list every initializer")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="the formula and the frameworks' equivalents")] = False,
    max_memory: MaxMemory = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Draw a sample from an initializer and compare its statistics with the formula."""
    if list_all or name is None:
        rows = initializers.catalog()
        if as_json:
            emit_json({"initializers": rows})
        else:
            width = max(len(r["usage"]) for r in rows)
            for r in rows:
                print(f"{r['usage']:<{width}}  {r['help']}")
        return
    if explain:
        info = initializers.explain(name)
        if as_json:
            emit_json(info)
            return
        print(f"{info['usage']}: {info['help']}")
        print(f"  formula: {info['formula']}")
        for k, v in info["equivalents"].items():
            print(f"  {k}: {v}")
        return
    dims = parse_ints(shape, "--shape")
    with budget(max_memory):  # the sample's memory is checked before it is drawn
        result = initializers.sample_summary(name, dims, seed=seed)
    if as_json:
        emit_json(result)
        return
    s, f = result["sample"], result["formula"]
    print(f"{name}: {f['text']}   (fan_in {f['fan_in']}, fan_out {f['fan_out']})")
    print(f"  formula: {f['distribution']}, std {f['std']:.6g}" + (f", bound {f['bound']:.6g}" if "bound" in f else ""))
    print(f"  sample {tuple(dims)}: mean {s['mean']:.3g}, std {s['std']:.6g}, min {s['min']:.6g}, max {s['max']:.6g}")


demo_app = typer.Typer(
    help="Demonstrations on built-in data; with no subcommand, the main one.", invoke_without_command=True
)
app.add_typer(demo_app, name="demo")


@demo_app.callback()
def demo(
    ctx: typer.Context,
    seeds: Annotated[str, typer.Option(help="number of seeds per initializer")] = "3",
    iterations: Annotated[int, typer.Option(help="gradient-descent steps")] = 15000,
    report: Annotated[str, typer.Option(help="folder for report.html and results.json")] = "out/demo",
    max_memory: MaxMemory = None,
    max_work: MaxWork = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """The main job: zeros vs random:0.01 vs he on the course's circles (2-10-5-1 ReLU), with the
    comparison table, the course's zero-vs-random table, and an HTML report."""
    if ctx.invoked_subcommand is not None:
        return
    from initlab.experiments.compare import CompareConfig, parse_seeds

    config = CompareConfig(
        data="circles",
        layers=(2, 10, 5, 1),
        hidden="relu",
        inits=("zeros", "random:0.01", "he"),
        lr=0.01,
        iterations=iterations,
        seeds=parse_seeds(seeds),
    )
    with budget(max_memory, max_work):
        result, paths = compare_run(config, report=report, course_table=True, progress=not as_json)
    if as_json:
        emit_json(result.to_dict(course_table=True))
        return
    print_compare(result, course_table=True)
    for path in paths.values():
        print(f"wrote {path}")


def _print_story(story, as_json: bool) -> None:
    if as_json:
        emit_json(story.to_dict())
    else:
        print("\n".join(story.lines()))


@demo_app.command("walkthrough")
def demo_walkthrough(
    updates: Annotated[int, typer.Option(help="gradient-descent updates to show")] = 3,
    seed: Annotated[int, typer.Option(help="seed of the random initialization")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """3 zero-initialized units on 2 inputs: forward, gradient, updates; then random; then the good methods."""
    from initlab.experiments.demos import walkthrough

    if not 0 <= updates <= 1000:  # each update is printed in full
        raise InitlabError(f"--updates must be 0 to 1000, got {updates}")
    _print_story(walkthrough(updates=updates, seed=seed), as_json)


@demo_app.command("symmetry")
def demo_symmetry(
    iterations: Annotated[int, typer.Option(help="gradient-descent steps")] = 3000,
    seed: Annotated[int, typer.Option(help="seed of the random initialization")] = 1,
    max_memory: MaxMemory = None,
    max_work: MaxWork = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """The 2-2-1 network from zeros and from random:0.01: effective width and each unit's weights."""
    from initlab.experiments.demos import symmetry_story

    with budget(max_memory, max_work):
        story = symmetry_story(iterations=iterations, seed=seed)
    _print_story(story, as_json)


@demo_app.command("saturation")
def demo_saturation(
    iterations: Annotated[int, typer.Option(help="gradient-descent steps")] = 1000,
    seed: Annotated[int, typer.Option(help="seed of the initialization")] = 0,
    max_memory: MaxMemory = None,
    max_work: MaxWork = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Sigmoid and tanh with weights randn * scale, scales 0.01 to 100: saturation and learning speed."""
    from initlab.experiments.demos import saturation_story

    with budget(max_memory, max_work):
        story = saturation_story(iterations=iterations, seed=seed)
    _print_story(story, as_json)


def compare_run(config, *, report: str | None, course_table: bool, progress: bool) -> tuple:
    """Run a comparison (with a progress bar) and write its report; returns (result, paths)."""
    from initlab.experiments import compare
    from initlab.report.html import write_report

    if report:
        output_folder(report)
    if course_table and len(config.inits) < 2:  # known now; which init stays symmetric, only after
        raise InitlabError(
            "the course table needs one init that stays symmetric (zeros or constant:C) and "
            f"one that breaks symmetry (random, he, ...); got {list(config.inits)}"
        )
    with progress_bar(config.iterations, show=progress) as callback:
        result = compare(config, progress=callback)
    if course_table:
        result.course_table()  # fail before writing anything if the inits cannot fill it
    with writing(report, "--report"):
        paths = write_report(result, report, course_table=course_table) if report else {}
    return result, paths


def print_compare(result, *, course_table: bool) -> None:
    """The comparison table (and the course's table) on stdout."""
    from rich.console import Console
    from rich.table import Table

    cfg = result.config
    widths = list(cfg.layers[1:-1])
    t = Table(
        title=f"{cfg.data}, {'-'.join(map(str, cfg.layers))} {cfg.hidden}"
        + ("" if result.net.layout is None else f" (residual: {result.net.layout.describe()})")
        + f", lr {cfg.lr}, {cfg.iterations} iterations, {len(cfg.seeds)} seed(s)"
    )
    for col in [
        "init",
        "train acc",
        "test acc",
        "final cost",
        "effective width",
        "saturated init",
        "saturated end",
        "symmetric every step",
    ]:
        t.add_column(col, justify="left" if col == "init" else "right")

    def fr(vs):
        return ", ".join("-" if v is None else f"{v:.2f}" for v in vs)

    for row in result.summary():
        t.add_row(
            row["init"],
            f"{100 * row['train_accuracy_mean']:.1f}% ± {100 * row['train_accuracy_std']:.1f}",
            f"{100 * row['test_accuracy_mean']:.1f}% ± {100 * row['test_accuracy_std']:.1f}",
            f"{row['final_cost_mean']:.4f}",
            ", ".join(f"{e:g}/{w}" for e, w in zip(row["effective_width_mean"], widths, strict=True)),
            fr(row["saturated_fraction_init"]),
            fr(row["saturated_fraction_end"]),
            f"{sum(row['symmetric_every_step'])} of {row['runs']}",
        )
    console = Console(width=max(120, Console().width))
    console.print(t)
    if course_table:
        from initlab.report.html import COURSE_ROWS

        ct = result.course_table()
        t2 = Table(title="The course's table, measured", show_lines=True)
        t2.add_column("")
        t2.add_column(f"zero ({ct['zero']['init']})")
        t2.add_column(f"random ({ct['random']['init']})")
        for key, label in COURSE_ROWS:
            t2.add_row(label, ct["zero"][key], ct["random"][key])
        console.print(t2)


@app.command()
def compare(
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "circles",
    layers: Annotated[str, typer.Option(help="layer sizes n_x,n_1,...,n_L")] = "2,10,5,1",
    hidden: Annotated[str, typer.Option(help=HIDDEN_HELP)] = "relu",
    output: Annotated[str | None, typer.Option(help=OUTPUT_HELP)] = None,
    inits: Annotated[str, typer.Option(help="comma-separated initializer specs")] = "zeros,random:10,he",
    lr: Annotated[float, typer.Option(help="learning rate alpha")] = 0.01,
    iterations: Annotated[int, typer.Option(help="gradient-descent steps")] = 15000,
    seeds: Annotated[str, typer.Option(help="number of seeds (5 = 0..4) or a list (3,7)")] = "5",
    report: Annotated[str | None, typer.Option(help="folder for report.html and results.json")] = None,
    course_table: Annotated[bool, typer.Option("--course-table", help="add the course's zero-vs-random table")] = False,
    data_seed: Annotated[int | None, typer.Option(help="seed of the data draw (default: the course's sets)")] = None,
    residual: ResidualOption = None,
    gate: GateOption = False,
    gate_value: GateValueOption = None,
    norm: NormOption = None,
    max_memory: MaxMemory = None,
    max_work: MaxWork = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Train every (init, seed) at once and compare: accuracy, cost, symmetry, saturation."""
    from initlab.experiments.compare import CompareConfig, parse_seeds

    if any(not s.strip() for s in inits.split(",")):
        raise InitlabError(f"--inits has an empty entry: {inits!r} (comma-separated specs, e.g. zeros,he)")
    specs = tuple(initializers.split_specs(inits))  # variance_scaling:2,fan_out stays one spec
    config = CompareConfig(
        data=data,
        layers=tuple(parse_ints(layers, "--layers")),
        hidden=hidden,
        output=output,
        inits=specs,
        lr=lr,
        iterations=iterations,
        seeds=parse_seeds(seeds),
        data_seed=data_seed,
        residual=residual,
        gate=parse_gate(gate, gate_value),
        norm=norm,
    )
    with budget(max_memory, max_work):
        result, paths = compare_run(config, report=report, course_table=course_table, progress=not as_json)
    diverged = [r for r in result.runs if r.diverged_at is not None]
    if as_json:
        emit_json(result.to_dict(course_table=course_table))
    else:
        print_compare(result, course_table=course_table)
        for path in paths.values():
            print(f"wrote {path}")
    if diverged:  # a NaN in the table is not a success: said once, and exit 1 as train does
        runs = ", ".join(f"{r.config.init} seed {r.config.seed} at iteration {r.diverged_at}" for r in diverged[:5])
        more = f" and {len(diverged) - 5} more" if len(diverged) > 5 else ""
        print(
            f"diverged: {len(diverged)} of {len(result.runs)} runs, the cost became NaN or inf "
            f"({runs}{more}): lower --lr or the initialization's scale",
            file=sys.stderr,
        )
        raise typer.Exit(1)


@app.command()
def reproduce(
    name: Annotated[
        str,
        typer.Argument(
            help="course-initialization, course-planar, fixup-2019, pennington-2017, schoenholz-2017, "
            "saxe-2014, glorot-2010 or he-2015"
        ),
    ],
    seed: Annotated[
        int | None, typer.Option(help="seed of the initialization (fixup-2019, pennington-2017; default 0)")
    ] = None,
    seeds: Annotated[
        str | None,
        typer.Option(help="schoenholz-2017, saxe-2014, glorot-2010, he-2015: seeds, comma-separated"),
    ] = None,
    depths: Annotated[
        str | None,
        typer.Option(
            help="fixup-2019: residual blocks (default 10,100,1000); pennington-2017: depths of the spectrum "
            "(default 1,2,4,...,128); schoenholz-2017: hidden layers (4,8,12,16,24,32,48); saxe-2014: weight "
            "layers (1,2,...,32); he-2015: one depth (30); comma-separated"
        ),
    ] = None,
    width: Annotated[
        int | None,
        typer.Option(help="units per hidden layer (fixup-2019 16, pennington-2017's spectrum 128, schoenholz 32, ...)"),
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="steps of gradient descent (every experiment that trains; its default)")
    ] = None,
    sigma_w2: Annotated[
        str | None,
        typer.Option("--sigma-w2", help="schoenholz-2017: the grid of sigma_w^2, comma-separated (1,1.25,...,4)"),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(help="schoenholz-2017: keep the sweep's runs in this DuckDB file; a rerun resumes it"),
    ] = None,
    executor: Annotated[str, typer.Option(help="schoenholz-2017: local or dask")] = "local",
    address: Annotated[str | None, typer.Option(help="schoenholz-2017: the Dask scheduler (--executor dask)")] = None,
    workers: Annotated[int | None, typer.Option(help="schoenholz-2017: worker processes (default: one a core)")] = None,
    report: Annotated[
        str | None,
        typer.Option(help="pennington-2017 and later papers: write report.html (the figure redrawn) here"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Follow a publication's procedure exactly; print its figures beside the measured ones.
    fixup-2019 runs the Fixup paper's claim at this machine's scale (He vs Fixup vs ReZero);
    pennington-2017 the Jacobian spectrum against depth beside free probability, and its learning race;
    schoenholz-2017 the trainability phase diagram (a sweep: --store, --executor dask); saxe-2014 deep
    linear learning times; glorot-2010 sigmoid saturation and Jacobians; he-2015 a 30-layer ReLU net."""
    from initlab.experiments.reproduce import reproduce as run

    options: dict = {}
    if seed is not None:
        options["seed"] = seed
    if seeds is not None:
        options["seeds"] = tuple(parse_ints(seeds, "--seeds"))
    if depths is not None:
        ds = tuple(parse_ints(depths, "--depths"))
        if name == "he-2015":
            if len(ds) != 1:
                raise InitlabError(f"he-2015 trains one depth: give --depths 30, got {depths}")
            options["depth"] = ds[0]
        else:
            options["depths"] = ds
    if width is not None:
        options["width"] = width
    if steps is not None:
        options["steps"] = steps
    if sigma_w2 is not None:
        try:
            options["sigma_w2"] = tuple(float(v) for v in sigma_w2.split(","))
        except ValueError:
            raise InitlabError(f"--sigma-w2 takes numbers separated by commas, got {sigma_w2!r}") from None
    if name == "schoenholz-2017":
        options.update(executor=executor, address=address, workers=workers)
        if store is not None:
            options["store"] = store
    elif store is not None or executor != "local" or address is not None or workers is not None:
        raise InitlabError("--store, --executor, --address and --workers are schoenholz-2017's (it runs a sweep)")
    if report:
        from initlab.report.papers import PAGES

        if name not in PAGES:  # before minutes of training, not after
            raise InitlabError(f"{name} has no report: --report is for {', '.join(PAGES)}")
        output_folder(report)
    story = run(name, **options)
    if report:
        from initlab.report.papers import write_paper_report

        paths = write_paper_report(story, report)
        print(f"wrote {paths['html']}", file=sys.stderr if as_json else sys.stdout)
    _print_story(story, as_json)


@app.command("theory")
def theory_cmd(
    activation: Annotated[str, typer.Option(help=HIDDEN_HELP.replace("hidden", "elementwise", 1))] = "tanh",
    sigma_w2: Annotated[float, typer.Option("--sigma-w2", help="weight variance times fan_in")] = 1.0,
    sigma_b2: Annotated[float, typer.Option("--sigma-b2", help="bias variance")] = 0.0,
    critical: Annotated[bool, typer.Option("--critical", help="the critical sigma_w2 for --sigma-b2")] = False,
    phase_diagram: Annotated[str | None, typer.Option("--phase-diagram", help="write its PNG here")] = None,
    measure: Annotated[bool, typer.Option("--measure", help="measure an ensemble beside the prediction")] = False,
    depth: Annotated[int, typer.Option(help="layers (with --measure)")] = 50,
    width: Annotated[int, typer.Option(help="units per layer (with --measure)")] = 256,
    init: Annotated[str, typer.Option(help="initializer spec (with --measure)")] = "he",
    networks: Annotated[int, typer.Option(help="ensemble size (with --measure)")] = 64,
    batch: Annotated[int, typer.Option(help="Gaussian inputs per network (with --measure)")] = 4,
    plot: Annotated[str | None, typer.Option(help="write the per-layer plot PNG here (with --measure)")] = None,
    seed: Annotated[int, typer.Option(help="seed (with --measure)")] = 0,
    max_memory: MaxMemory = None,
    max_work: MaxWork = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Mean-field theory: q*, chi_1, depth scales, the critical init, the phase diagram; with
    --measure, an ensemble's per-layer variance beside the prediction (trains nothing)."""
    from initlab import theory

    if measure:
        for flag, value in (("--depth", depth), ("--width", width), ("--batch", batch)):
            if value < 1:
                raise InitlabError(f"{flag} must be at least 1 with --measure, got {value}")
        if plot:
            output_file(plot, "--plot")
        with budget(max_memory, max_work):
            limits.check(limits.ensemble_pass(depth=depth, width=width, networks=networks, batch=batch))
            _theory_measure(
                activation=activation,
                depth=depth,
                width=width,
                init=init,
                sigma_b2=sigma_b2,
                networks=networks,
                batch=batch,
                plot=plot,
                seed=seed,
                as_json=as_json,
            )
        return
    if phase_diagram:
        output_file(phase_diagram, "--phase-diagram")
        from initlab.report.plots import phase_diagram_figure, save_figure

        grid = theory.phase_grid(activation)
        with writing(phase_diagram, "--phase-diagram"):
            save_figure(phase_diagram_figure(grid), phase_diagram)
        print(f"wrote {phase_diagram}", file=sys.stderr if as_json else sys.stdout)
        if not critical and as_json:
            emit_json({"activation": activation, "phase_diagram": phase_diagram})
        if not critical:
            return
    if critical:
        mf = theory.edge_of_chaos(activation, sigma_b2)
        sw2 = mf.sigma_w2
        out = {
            "activation": activation,
            "sigma_b2": sigma_b2,
            "critical_sigma_w2": sw2,
            "q_star": mf.q_star,
            "chi1": mf.chi1,
        }
        if as_json:
            emit_json(out)
        else:
            print(
                f"{activation} at sigma_b2 = {sigma_b2:g}: critical sigma_w2 = {sw2:.6f} "
                f"(chi_1 = {mf.chi1:.6f}, q* = {mf.q_star:.6g}): weights with variance "
                f"{sw2:.4g} / fan_in put the network at the edge of chaos"
            )
        return
    mf = theory.depth_scales(activation, sigma_w2, sigma_b2)
    if as_json:
        emit_json(mf.to_dict())
        return
    print(f"{activation}, sigma_w2 = {sigma_w2:g}, sigma_b2 = {sigma_b2:g}: {mf.phase}")
    print(f"  q*   = {mf.q_star:.6g}   (fixed point of the variance map)")
    print(f"  chi1 = {mf.chi1:.6g}   (< 1 ordered: gradients vanish; > 1 chaotic: they explode)")
    print(f"  c*   = {mf.c_star:.6g}")
    print(f"  xi_q = {mf.xi_q:.4g} layers, xi_c = {mf.xi_c:.4g} layers (depth scales)")
    if mf.xi_q < 0:
        print(f"  (xi_q < 0: no finite q*, the variance grows by a factor e every {-mf.xi_q:.4g} layers)")


def _theory_measure(*, activation, depth, width, init, sigma_b2, networks, batch, plot, seed, as_json) -> None:
    from initlab import theory
    from initlab.diagnose.propagation import measure_ensemble

    m = measure_ensemble(
        depth=depth,
        width=width,
        activation=activation,
        init=init,
        sigma_b2=sigma_b2,
        networks=networks,
        batch=batch,
        seed=seed,
    )
    out = m.to_dict()
    fw = out["finite_width"]
    if fw["predicted_spread"] is not None:
        fw["sentence"] = theory.reliability(fw["predicted_spread"])
    if plot:
        from initlab.report.plots import ensemble_figure, save_figure

        with writing(plot, "--plot"):
            save_figure(ensemble_figure(m), plot)
        out["plot"] = plot
    if as_json:
        emit_json(out)
        return
    c = out["config"]
    print(
        f"{networks} networks, {depth} layers of {width} {activation} units, init {init} "
        f"(sigma_w2 = {c['sigma_w2']:.4g}, sigma_b2 = {sigma_b2:g}), {batch} Gaussian inputs; trains nothing"
    )
    print(
        f"{'layer':>5}{'predicted q':>14}{'ensemble mean':>15}{'+- SE':>10}{'spread(log)':>13}"
        f"{'one network':>13}{'pred grad':>12}{'mean grad':>12}"
    )
    rows = out["layers"]
    step = max(1, len(rows) // 12)
    for r in rows[::step] + ([rows[-1]] if (len(rows) - 1) % step else []):
        print(
            f"{r['layer']:>5}{r['predicted_q']:>14.4g}{r['mean_q']:>15.4g}{r['sem_q']:>10.2g}"
            f"{r['log_spread_q']:>13.3f}{r['one_network_q']:>13.4g}{r['predicted_grad_q']:>12.4g}"
            f"{r['mean_grad_q']:>12.4g}"
        )
    if fw["predicted_spread"] is not None:
        print(
            f"finite width: variance across networks of log ||z_{depth}||^2: predicted "
            f"{fw['predicted_spread']:.3f}, measured {fw['measured_spread']:.3f}"
        )
        print(fw["sentence"])
    if plot:
        print(f"wrote {plot}")


#: `initlab deep`'s defaults for plain MLPs, and for residual ones (--residual): sized so that
#: `initlab deep --residual 2 --blocks 100` runs in a few minutes on 2 cores (docs/deep.md).
PLAIN_DEEP = {
    "width": 64,
    "inits": "he,xavier,variance_scaling:0.5",
    "lr": 0.01,
    "iterations": 800,
    "train_examples": 600,
}
RESIDUAL_DEEP = {
    "width": 16,
    "inits": "he,fixup,rezero,zero,gpt2",
    "lr": 0.05,
    "iterations": 300,
    "train_examples": 500,
}


@app.command("deep")
def deep_cmd(
    depth: Annotated[int, typer.Option(help="weight layers (plain MLPs)")] = 30,
    width: Annotated[
        int | None, typer.Option(help=f"units per hidden layer (default: 64; residual: {RESIDUAL_DEEP['width']})")
    ] = None,
    hidden: Annotated[str, typer.Option(help=HIDDEN_HELP)] = "relu",
    inits: Annotated[
        str | None,
        typer.Option(
            help=f"comma-separated initializer specs (default: he,xavier,variance_scaling:0.5; "
            f"residual: {RESIDUAL_DEEP['inits']})"
        ),
    ] = None,
    lr: Annotated[
        float | None, typer.Option(help=f"learning rate (default: 0.01; residual: {RESIDUAL_DEEP['lr']})")
    ] = None,
    iterations: Annotated[
        int | None, typer.Option(help=f"gradient-descent steps (default: 800; residual: {RESIDUAL_DEEP['iterations']})")
    ] = None,
    train_examples: Annotated[
        int | None,
        typer.Option(
            help=f"training examples of digits used (0: all; default: 600; residual: {RESIDUAL_DEEP['train_examples']})"
        ),
    ] = None,
    residual: ResidualOption = None,
    blocks: Annotated[int, typer.Option(help="residual blocks (with --residual)")] = 100,
    gate: GateOption = False,
    gate_value: GateValueOption = None,
    norm: NormOption = None,
    seed: Annotated[int, typer.Option(help="seed of the initialization")] = 0,
    report: Annotated[str | None, typer.Option(help="folder for report.html and results.json")] = None,
    max_memory: MaxMemory = None,
    max_work: MaxWork = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Train deep MLPs on digits with several initializations: which train, which stall, and why.
    With --residual M: residual MLPs of --blocks blocks, and the stream's variance by block."""
    from initlab.experiments.deep import DeepConfig, deep, write_deep_report

    defaults = RESIDUAL_DEEP if residual is not None else PLAIN_DEEP
    width = defaults["width"] if width is None else width
    inits = defaults["inits"] if inits is None else inits
    lr = defaults["lr"] if lr is None else lr
    iterations = defaults["iterations"] if iterations is None else iterations
    train_examples = defaults["train_examples"] if train_examples is None else train_examples
    if train_examples < 0:
        raise InitlabError(f"--train-examples must be a positive number of examples (0: all), got {train_examples}")
    config = DeepConfig(
        depth=depth,
        width=width,
        hidden=hidden,
        inits=tuple(initializers.split_specs(inits)),
        lr=lr,
        iterations=iterations,
        train_examples=train_examples or None,
        seed=seed,
        residual=residual,
        blocks=blocks,
        gate=parse_gate(gate, gate_value),
        norm=norm,
    )
    if report:
        output_folder(report)
    with budget(max_memory, max_work), progress_bar(iterations, show=not as_json) as callback:
        result = deep(config, progress=callback)
    with writing(report, "--report"):
        paths = write_deep_report(result, report) if report else {}
    _print_story(result, as_json)
    for path in paths.values():
        print(f"wrote {path}", file=sys.stderr if as_json else sys.stdout)


@app.command("audit")
def audit_cmd(
    target: Annotated[str, typer.Argument(help="FILE.py:FACTORY, a function returning the torch.nn.Module")],
    input_shape: Annotated[str | None, typer.Option(help="batch shape, e.g. 32,3,32,32 or 2,64 (tokens)")] = None,
    input_dtype: Annotated[str, typer.Option(help="float, float64, long or int: long draws token ids")] = "float",
    vocab: Annotated[
        int | None, typer.Option(help="token ids' range for --input-dtype long (default: the first Embedding's)")
    ] = None,
    input: Annotated[
        str | None, typer.Option("--input", help="a batch: .pt (weights_only=True) or .npz; instead of --input-shape")
    ] = None,
    output_key: Annotated[
        str | None, typer.Option(help="the output to audit when the model returns a dict (default: logits)")
    ] = None,
    init: Annotated[str | None, typer.Option(help="initialize with this spec before auditing")] = None,
    checkpoint: Annotated[str | None, typer.Option(help="a state dict (torch.load weights_only=True)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the batch, the error signal and --init")] = 0,
    report: Annotated[str | None, typer.Option(help="folder for report.html and results.json")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Is my PyTorch model initialized well? One batch, one forward and one backward pass."""
    try:
        import torch

        from initlab.torch import audit, initialize
        from initlab.torch.audit import load_batch, load_model, make_batch, write_audit_report
    except ImportError:
        raise InitlabError("audit needs PyTorch: pip install -e '.[torch]' (torch==2.13.0)") from None
    from initlab.userfile import user_code

    if (input_shape is None) == (input is None):
        raise InitlabError(
            "give the batch as --input-shape 32,3,32,32 (random) or --input FILE (.pt, .npz), one of them"
        )
    shape = parse_ints(input_shape, "--input-shape") if input_shape is not None else None
    if shape is not None and any(n < 1 for n in shape):
        raise InitlabError(f"--input-shape needs positive sizes, got {shape}")
    if report:
        output_folder(report)
    model = load_model(target, checkpoint=checkpoint)
    if input is not None:
        batch = load_batch(input)
    else:
        batch = make_batch(model, shape, dtype=input_dtype, vocab=vocab, seed=seed)
    if init:
        if not torch.is_tensor(batch) and "lsuv" in init:
            raise InitlabError("--init lsuv needs a single-tensor batch")
        with user_code("the model's forward (for --init)", exceptions=False):
            initialize(model, init, seed=seed, batch=batch if torch.is_tensor(batch) else None)  # lsuv only
    extra = {"output_key": output_key} if output_key is not None else {}
    result = audit(model, batch, seed=seed, **extra)
    with writing(report, "--report"):
        paths = write_audit_report(result, report) if report else {}
    _print_story(result, as_json)
    for path in paths.values():
        print(f"wrote {path}", file=sys.stderr if as_json else sys.stdout)
    errors = [f for f in getattr(result, "findings", []) if f["severity"] == "error"]
    if errors:  # a gate for CI, as coord-check's flagged modules and train's divergence
        print(f"{len(errors)} error finding(s): exit 1", file=sys.stderr)
        raise typer.Exit(1)


sweep_app = typer.Typer(
    help="Sweeps: a grid of runs from a TOML spec, stored in DuckDB, resumable.", no_args_is_help=True
)
app.add_typer(sweep_app, name="sweep")
StoreOption = Annotated[str, typer.Option(help="the DuckDB results file")]


@contextlib.contextmanager
def sweep_progress(*, show: bool = True):
    """A rich bar of runs done and failed, with ETA; yields ``callback(done, failed, total)``
    (the driver's first call gives the total)."""
    if not show or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TextColumn("failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=_stderr_console(),
        transient=True,
    )
    task = bar.add_task("sweep", total=None, failed=0)

    def callback(done: int, failed: int, total: int) -> None:
        bar.update(task, completed=done + failed, failed=failed, total=total)

    with bar:
        yield callback


@sweep_app.command("run")
def sweep_run(
    spec: Annotated[str, typer.Argument(help="the sweep's TOML file")],
    store: StoreOption = "runs.duckdb",
    executor: Annotated[str, typer.Option(help="local (worker processes) or dask")] = "local",
    address: Annotated[
        str | None, typer.Option(help="Dask scheduler, tcp://HOST:PORT (dask without one: a local cluster)")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes (default: one per core)")] = None,
    retries: Annotated[int | None, typer.Option(help="attempts after the first (default: the spec's, 2)")] = None,
    max_runs: Annotated[int | None, typer.Option(help="refuse a grid of more runs (default 100,000)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Run every run of SPEC not yet done in the store; finished runs are skipped, failed ones retried."""
    from initlab.experiments.store import Store
    from initlab.experiments.sweep import load_spec, run_sweep

    sweep = load_spec(spec)
    st = Store(store)
    with sweep_progress(show=not as_json) as callback:
        out = run_sweep(
            sweep,
            st,
            executor=executor,
            address=address,
            workers=workers,
            retries=retries,
            progress=callback,
            **_max_runs(max_runs),
        )
    if as_json:
        emit_json({"sweep": sweep.name, "store": store, **out.to_dict()})
    else:
        print(
            f"sweep {sweep.name}: {out.total} runs; {out.skipped} already done, {out.done} done now, "
            f"{out.failed} failed ({out.seconds:.1f} s) -> {store}"
        )
        for err in dict.fromkeys(out.errors):
            print(f"  failed: {err}")
        for s in sweep.skipped():  # a grid crosses every axis: what it cannot build is said, not failed
            where = "a plain network" if s.get("residual") is None else f"residual {s['residual']}"
            print(f"  not run: {s['init']} on layers {','.join(map(str, s['layers']))} ({where}): {s['reason']}")
    if out.from_journal:
        print(f"{out.from_journal} finished runs that waited in {out.journal} are stored now", file=sys.stderr)
    if out.unstored:
        print(
            f"{out.unstored} finished runs wait in {out.journal}: another process held {store} to the end; "
            "the next sweep run on this store writes them in",
            file=sys.stderr,
        )
    elif out.journaled:
        print(
            f"{out.journaled} finished runs waited in {out.journal} while another process held {store}; "
            "all are stored now",
            file=sys.stderr,
        )
    if out.interrupted:
        print("interrupted: finished runs are stored; run the same command again to finish", file=sys.stderr)
        # That line is the last word: the interrupted worker pool's exit hook can still report a
        # closed pipe ("Exception ignored in ... Bad file descriptor"), seen 1 run in 10.
        sys.stderr.flush()
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the process
        raise typer.Exit(130)
    if out.failed or out.unstored:
        raise typer.Exit(1)


def _max_runs(max_runs: int | None) -> dict:
    """--max-runs as run_sweep's keyword: absent, the library's default (sweep.MAX_RUNS)."""
    return {} if max_runs is None else {"max_runs": max_runs}


@sweep_app.command("status")
def sweep_status_cmd(
    spec: Annotated[str | None, typer.Argument(help="a spec: count its done, failed, pending runs")] = None,
    store: StoreOption = "runs.duckdb",
    max_runs: Annotated[int | None, typer.Option(help="refuse a spec of more runs (default 100,000)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """What the store holds (readable while a sweep writes to it)."""
    from initlab.experiments.store import Store
    from initlab.experiments.sweep import load_spec, sweep_status

    st = Store(store)
    if not st.path.exists():
        raise InitlabError(f"store {store!r} does not exist: run a sweep first")
    out = sweep_status(load_spec(spec) if spec else None, st, **_max_runs(max_runs))
    if as_json:
        emit_json(out)
        return
    for s in out["sweeps"]:
        print(
            f"{s['sweep']}: {s['done']} done, {s['failed']} failed, "
            f"{s['net_iterations']:,} network-iterations, last finished {s['last_finished']}"
        )
    if not out["sweeps"]:
        print(f"{store}: no runs yet")
    if out["journaled"]:
        print(f"{out['journaled']} finished runs wait in {st.journal} for the next sweep run to store them")
    if "spec" in out:
        p = out["spec"]
        print(f"spec {p['name']}: {p['done']} of {p['total']} done, {p['failed']} failed, {p['pending']} pending")


@sweep_app.command("report")
def sweep_report_cmd(
    store: StoreOption = "runs.duckdb",
    out: Annotated[str, typer.Option(help="folder for report.html and results.json")] = "sweep-report",
    sweep: Annotated[str | None, typer.Option(help="only this sweep's runs")] = None,
) -> None:
    """Tables and plots from the store: accuracy and cost against scale, effective width over time."""
    from initlab.experiments.store import Store
    from initlab.report.sweep import write_sweep_report

    for path in write_sweep_report(Store(store), out, sweep).values():
        print(f"wrote {path}")


@sweep_app.command("query")
def sweep_query_cmd(
    sql: Annotated[str, typer.Argument(help="read-only SQL over the tables runs and curves")],
    store: StoreOption = "runs.duckdb",
    max_rows: Annotated[int | None, typer.Option(help="refuse a result of more rows (default 10,000)")] = None,
    timeout: Annotated[float | None, typer.Option(help="stop the query after this many seconds (default 60)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Run SQL on the store (read-only: no writes, no files, no extensions) and print the rows."""
    from initlab.experiments.store import Store

    limits = {k: v for k, v in (("max_rows", max_rows), ("timeout", timeout)) if v is not None}
    columns, rows = Store(store).query(sql, **limits)  # absent: the library's defaults
    if as_json:  # every digit: a float goes out as the store holds it (shortest round trip)
        emit_json({"columns": columns, "rows": [[_cell(v, exact=True) for v in r] for r in rows]})
        return
    from rich.table import Table

    table = Table(*columns)
    for r in rows:
        table.add_row(*(str(_cell(v)) for v in r))
    from rich.console import Console

    Console().print(table)


def _cell(v: object, *, exact: bool = False) -> object:
    """A stored value for printing: floats to 6 digits in the table, exact in JSON."""
    if isinstance(v, float):
        return v if exact else float(f"{v:.6g}")
    if isinstance(v, (int, str, bool, list)) or v is None:
        return v
    return str(v)


@app.command("dashboard")
def dashboard_cmd(
    port: Annotated[int, typer.Option(help="port to serve on")] = 8765,
    host: Annotated[str, typer.Option(help="address to bind; anything but 127.0.0.1 prints a warning")] = "127.0.0.1",
    no_browser: Annotated[bool, typer.Option("--no-browser", help="do not open a browser")] = False,
) -> None:
    """A local web page: train initializations side by side and watch symmetry, saturation and signal live."""
    from initlab.dashboard import serve

    serve(port, host, open_browser=not no_browser)


course_app = typer.Typer(help="The course's own functions: check a learner's code against them.", no_args_is_help=True)
app.add_typer(course_app, name="course")


@course_app.command("check")
def course_check(
    file: Annotated[str, typer.Argument(help="the learner's .py file (only this file is imported)")],
    module: Annotated[str | None, typer.Option(help="planar, deep or initialization (default: guessed)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the random inputs")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Call each course function in FILE and initlab's reference on the same random inputs."""
    from initlab.course.check import check, main_text

    report = check(file, module, seed=seed)
    if as_json:
        emit_json(report.to_dict())
    else:
        print(main_text(report))
    if not report.ok:
        raise typer.Exit(1)


@app.command("coord-check")
def coord_check_cmd(
    target: Annotated[str, typer.Argument(help="FILE.py:FACTORY, a function width -> torch.nn.Module")],
    widths: Annotated[str, typer.Option(help="widths to build, e.g. 64,128,256,512,1024")] = "64,128,256,512,1024",
    input_shape: Annotated[str, typer.Option(help="batch shape, e.g. 32,64 or 4,16 (tokens)")] = ...,
    input_dtype: Annotated[str, typer.Option(help="float (N(0, 1) inputs) or long (token ids)")] = "float",
    vocab: Annotated[int | None, typer.Option(help="token ids in [0, VOCAB) for --input-dtype long")] = None,
    optimizer: Annotated[str, typer.Option(help="sgd, adam or adamw")] = "sgd",
    lr: Annotated[float | None, typer.Option(help="learning rate (default: mup's, 0.1 for sgd, 1e-3 else)")] = None,
    steps: Annotated[int, typer.Option(help="steps recorded, the first at initialization")] = 3,
    seeds: Annotated[int, typer.Option(help="models per width (seeds --seed, --seed+1, ...); l1 averaged")] = 1,
    exempt: Annotated[
        str | None, typer.Option(help="modules muP lets shrink at init, comma-separated globs, e.g. '*.scores'")
    ] = None,
    seed: Annotated[int, typer.Option(help="first seed of the models; the seed of the random batch")] = 0,
    output_key: Annotated[
        str | None, typer.Option(help="the output to train on when the model returns a dict (default: logits)")
    ] = None,
    report: Annotated[str | None, typer.Option(help="folder for report.html (the plot) and results.json")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Do activations keep their size as the model gets wider? muP's coordinate check.

    Exit code 0 when every module passes, 1 when a module is flagged, 2 on bad input."""
    try:
        from initlab.torch.coord import coord_check, random_batch, write_coord_report
    except ImportError:
        raise InitlabError("coord-check needs PyTorch: pip install -e '.[torch]' (torch==2.13.0)") from None
    from initlab.userfile import load_function

    ws = parse_ints(widths, "--widths")
    shape = parse_ints(input_shape, "--input-shape")
    batch = random_batch(shape, dtype=input_dtype, vocab=vocab, seed=seed)
    patterns = [p.strip() for p in exempt.split(",") if p.strip()] if exempt else []
    if report:
        output_folder(report)
    factory, _ = load_function(target)
    result = coord_check(
        factory,
        ws,
        batch,
        steps=steps,
        optimizer=optimizer,
        lr=lr,
        seeds=seeds,
        seed=seed,
        exempt=patterns,
        output_key=output_key,
    )
    with writing(report, "--report"):
        paths = write_coord_report(result, report, title=target) if report else {}
    _print_story(result, as_json)
    for path in paths.values():
        print(f"wrote {path}", file=sys.stderr if as_json else sys.stdout)
    if result.flagged:
        raise typer.Exit(1)  # a check that fails, as mup's own test does: usable in CI


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``initlab`` script: errors become one line and exit code 2."""
    from typer._click.exceptions import ClickException  # typer vendors click

    try:
        code = app(args=argv, prog_name="initlab", standalone_mode=False)
    except InitlabError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except ClickException as e:
        print(f"error: {e.format_message()}", file=sys.stderr)
        sys.exit(e.exit_code if e.exit_code else 2)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:  # a Ctrl-C outside the command (user code's own is an InitlabError)
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except MemoryError:  # the estimates (initlab.limits) missed: still one line
        print(
            "error: out of memory: the request needs more than the machine has; make it smaller "
            f"(or see --max-memory and {limits.ENV_MEMORY})",
            file=sys.stderr,
        )
        sys.exit(2)
    except OSError as e:  # a file initlab reads or writes, named
        where = f": {e.filename}" if e.filename else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
