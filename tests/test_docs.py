"""The documentation's Python examples run as pasted, print what they say, and name real things.

Convention for ```python blocks in README.md and docs/*.md (a note in docs/networks.md says it too):

- A statement whose line ends in ``# -> TEXT`` is checked: what that statement writes to stdout
  (one trailing newline dropped) must be exactly TEXT. ``print(x)   # -> [-0.00416758 -0.00056267]``.
  Anything after a further `` # `` is a remark, not output:
  ``print(flag)   # -> True   # one unit at every step``.
  ``...`` in TEXT stands for any text (for a long repr, or a timing).
  A statement that runs more than once (in a loop) is checked against its outputs joined by
  `` / ``: ``predict(X, Y, p)   # -> Accuracy: 0.5 / Accuracy: 0.83``.
- A ``print(...)`` line carries no other trailing comment: its comment is checked output, so it
  cannot drift from the truth. Remarks go after the output or on their own line.
- Comments on other lines are prose and unchecked (``net.params   # the course's dict``).

Numbers are compared as printed: they come from seeded runs.
"""

import ast
import contextlib
import io
import json
import re
import subprocess
import sys
import textwrap
import tokenize
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CHECK = "__doc_check__"


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number of the block's first code line, code) for every ```python block."""
    text = path.read_text()
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


def comments(code: str) -> dict[int, str]:
    """Line number (1-based, in the block) -> the text of that line's comment, without '#'."""
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return {t.start[0]: t.string[1:].strip() for t in tokens if t.type == tokenize.COMMENT}


def expected_outputs(code: str) -> dict[int, str]:
    """Line -> the output its comment says the statement ending there prints ('# -> TEXT')."""
    out = {}
    for line, text in comments(code).items():
        if text.startswith("->"):
            out[line] = text[2:].split(" # ", 1)[0].strip()
    return out


def matches(expected: str, got: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, got, re.S) is not None


class _Instrument(ast.NodeTransformer):
    """Wrap each statement that ends on a checked line in `with __doc_check__(line):`."""

    def __init__(self, lines):
        self.lines, self.found = set(lines), set()

    def generic_visit(self, node):
        super().generic_visit(node)
        if isinstance(node, ast.stmt) and not hasattr(node, "body") and node.end_lineno in self.lines:
            if node.end_lineno in self.found:
                raise ValueError(f"line {node.end_lineno}: two statements share one '# ->' comment")
            self.found.add(node.end_lineno)
            call = ast.Call(ast.Name(CHECK, ast.Load()), [ast.Constant(node.end_lineno)], [])
            return ast.copy_location(ast.With([ast.withitem(call)], [node]), node)
        return node


def print_lines(tree: ast.AST) -> set[int]:
    return {
        node.end_lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "print"
    }


def run_block(code: str, filename: str, first_line: int = 1) -> list[str]:
    """Execute one block; return a message for every checked line whose output differs."""
    expected = expected_outputs(code)
    tree = ast.parse(code)
    problems = [
        f"{filename}:{first_line + line - 1}: a print line's comment must be checked "
        f"output ('# -> TEXT'), got '# {text}'"
        for line, text in comments(code).items()
        if line in print_lines(tree) and line not in expected
    ]
    instrument = _Instrument(expected)
    tree = ast.fix_missing_locations(instrument.visit(tree))
    problems += [
        f"{filename}:{first_line + line - 1}: '# ->' is not at the end of a simple statement"
        for line in sorted(set(expected) - instrument.found)
    ]
    printed: dict[int, list[str]] = {line: [] for line in expected}

    @contextlib.contextmanager
    def check(line):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            yield
        text = buffer.getvalue()
        printed[line].append(text[:-1] if text.endswith("\n") else text)

    ast.increment_lineno(tree, first_line - 1)  # tracebacks point into the markdown file
    exec(compile(tree, filename, "exec"), {CHECK: check, "__name__": "__doc__"})
    for line, want in expected.items():
        got = " / ".join(printed[line])
        if not matches(want, got):
            problems.append(f"{filename}:{first_line + line - 1}: printed {got!r}, the doc says {want!r}")
    return problems


@pytest.mark.parametrize("path", [p for p in DOCS if python_blocks(p)], ids=lambda p: p.name)
def test_python_examples_run_and_print_what_they_say(path, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    problems = []
    for first_line, block in python_blocks(path):
        problems += run_block(block, str(path), first_line)
    assert not problems, "\n".join(problems)


# --- the checker itself can fail -------------------------------------------------------------


def test_a_wrong_expected_output_fails():
    code = "x = [1, 2]\nprint(x)   # -> [1, 3]\nprint(len(x))   # -> 2   # a remark\n"
    assert run_block(code, "doc.md") == ["doc.md:2: printed '[1, 2]', the doc says '[1, 3]'"]


def test_a_print_comment_that_is_not_checked_output_fails():
    problems = run_block("print(True)   # True: one unit at every step\n", "doc.md")
    assert problems and "must be checked output" in problems[0]


def test_loops_join_outputs_and_ellipsis_matches_any_text():
    code = textwrap.dedent("""\
        for k in (1, 2, 3):
            print(f"k={k}")   # -> k=1 / k=2 / k=3
        print("took 0.123 s, result 42")   # -> took ... s, result 42
        """)
    assert run_block(code, "doc.md") == []
    assert run_block(code.replace("k=3\n", "k=4\n"), "doc.md") != []


def test_a_statement_that_never_runs_fails():
    code = "if False:\n    print(1)   # -> 1\n"
    assert run_block(code, "doc.md") == ["doc.md:2: printed '', the doc says '1'"]


# --- public names ----------------------------------------------------------------------------


def documented_names() -> tuple[set[str], set[tuple[str, str]]]:
    """Every `initlab.a.b` the docs mention, and every `from initlab... import name` in code."""
    dotted, imported = set(), set()
    for path in DOCS:
        text = path.read_text()
        dotted |= set(re.findall(r"(?<![\w/.-])initlab(?:\.[A-Za-z_]\w*)+", text))
        for _, block in python_blocks(path):
            for node in ast.walk(ast.parse(block)):
                if isinstance(node, ast.ImportFrom) and node.module.split(".")[0] == "initlab":
                    imported |= {(node.module, alias.name) for alias in node.names}
    return dotted, imported


RESOLVE = """
import importlib, json, sys
import initlab
dotted, imported = json.loads(sys.argv[1])
missing = []
for name in dotted:
    head, first, *rest = name.split(".")
    try:
        obj = getattr(initlab, first)  # import initlab; initlab.X must work without importing X
    except AttributeError:
        missing.append(name)
        continue
    path = f"initlab.{first}"
    for part in rest:  # deeper: as `import initlab.a.b` then `initlab.a.b.c` would reach it
        path += "." + part
        try:
            obj = getattr(obj, part)
        except AttributeError:
            try:
                obj = importlib.import_module(path)
            except ImportError:
                missing.append(name)
                break
for module, name in imported:
    try:
        exec(f"from {module} import {name}", {})
    except ImportError:
        missing.append(f"from {module} import {name}")
print(json.dumps(sorted(missing)))
"""


def test_every_name_the_docs_use_resolves():
    dotted, imported = documented_names()
    assert {"initlab.theory", "initlab.Network", "initlab.torch.initialize"} <= dotted
    assert ("initlab", "theory") in imported
    args = json.dumps([sorted(dotted), sorted(imported)])
    done = subprocess.run(
        [sys.executable, "-c", RESOLVE, args], capture_output=True, text=True, check=True, timeout=300
    )
    assert json.loads(done.stdout) == []


# --- import initlab stays NumPy-only --------------------------------------------------------

HEAVY = ("torch", "matplotlib", "dask", "duckdb", "panel", "scipy", "sklearn", "numba", "jinja2", "typer", "rich")
IMPORT = """
import json, sys, time
start = time.perf_counter()
import initlab
seconds = time.perf_counter() - start
loaded = sorted({m.split(".")[0] for m in sys.modules})
lazy = sorted(m for m in ("initlab.theory", "initlab.data", "initlab.torch", "initlab.course")
              if m in sys.modules)
print(json.dumps({"seconds": seconds, "loaded": loaded, "lazy": lazy, "dir": dir(initlab)}))
"""


def test_import_initlab_is_numpy_only_and_lazy():
    done = subprocess.run([sys.executable, "-c", IMPORT], capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(done.stdout)
    assert [m for m in HEAVY if m in result["loaded"]] == []
    assert result["lazy"] == []  # the lazy subpackages load on access, not on import
    assert {"theory", "propagation", "torch", "data", "Network"} <= set(result["dir"])
    assert result["seconds"] < 3.0  # loose sanity bound; about 0.3 s on a 2-core machine


def test_lazy_names_are_the_real_objects():
    import initlab
    from initlab.diagnose.propagation import propagation

    assert initlab.propagation is propagation
    assert initlab.theory.critical_sigma_w2("relu", 0.0) == pytest.approx(2.0)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        initlab.nonsense  # noqa: B018
