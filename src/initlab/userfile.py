"""Running the user's code (a file they named, a factory, a model's forward, a learner's function)
with every way it can end wrongly made one line.

User code that calls ``sys.exit(0)`` or raises ``KeyboardInterrupt`` must not end initlab as if
it had finished (an auto-grader reads exit 0 as a pass): both become an `InitlabError`, exit 2.
A real Ctrl-C (a SIGINT that arrives while the user's code runs) stays a ``KeyboardInterrupt``,
which the CLI ends with 130.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from initlab.errors import InitlabError


class UserCodeError(InitlabError):
    """The user's code exited, was interrupted without a Ctrl-C, or raised: one line."""


def describe(e: BaseException) -> str:
    """What ended the user's code, in a few words: ``called sys.exit(0)``,
    ``raised KeyboardInterrupt``, ``raised ValueError: the first line of its message``."""
    if isinstance(e, SystemExit):
        return f"called sys.exit({e.code!r})"
    text = str(e).strip()
    line = text.splitlines()[0] if text else ""
    return f"raised {type(e).__name__}" + (f": {line}" if line else "")


@contextlib.contextmanager
def _sigint_watch() -> Iterator[list[bool]]:
    """Yields a flag that turns True if a SIGINT arrives in the block (Python's own handler still
    raises the KeyboardInterrupt). Outside the main thread, or under someone else's handler,
    signals cannot be watched: the flag stays False."""
    seen = [False]
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield seen
        return

    def handler(signum, frame):
        seen[0] = True
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def user_code(what: str, *, exceptions: bool = True) -> Iterator[None]:
    """Run the user's code in the block: ``what`` names it (``"importing hw.py"``,
    ``"models.py:make()"``).

    ``SystemExit`` and a ``KeyboardInterrupt`` that no SIGINT caused become a `UserCodeError`:
    ``"importing hw.py called sys.exit(0): ..."``. With ``exceptions`` (the default), any other
    exception does too (``"... raised ValueError: ..."``); without, it propagates unchanged for
    the caller to word (or to count as the learner's failure).
    """
    with _sigint_watch() as sigint:
        try:
            yield
        except SystemExit as e:
            raise UserCodeError(f"{what} {describe(e)}: user code must return, not exit") from None
        except KeyboardInterrupt as e:
            if sigint[0]:
                raise  # a real Ctrl-C
            raise UserCodeError(f"{what} {describe(e)} (no Ctrl-C was pressed)") from None
        except InitlabError:
            raise
        except Exception as e:
            if not exceptions:
                raise
            raise UserCodeError(f"{what} {describe(e)}") from None


def import_file(path: str | Path, *, quiet: bool = True) -> ModuleType:
    """Import ``path`` as a module of its own; anything it prints at import is swallowed when
    ``quiet``. A missing file, a non-.py file or an import that raises (or exits) is an
    `InitlabError`."""
    path = Path(path)
    if not path.is_file():
        raise InitlabError(f"{path} does not exist or is not a file")
    if path.suffix != ".py":
        raise InitlabError(f"{path} is not a Python file (.py)")
    name = "initlab_user_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    with user_code(f"importing {path}"):
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            spec.loader.exec_module(module)
    return module


def load_function(target: str) -> tuple[object, str]:
    """``path/file.py:name`` -> (the callable ``name`` of that file, its path): the factory of
    ``initlab coord-check FILE:FACTORY``. A target without ``:``, or a name the file lacks, is an
    `InitlabError` listing what the file defines."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise InitlabError(f"expected FILE.py:FACTORY (e.g. models.py:make_model), got {target!r}")
    module = import_file(path)
    fn = getattr(module, name, None)
    if not callable(fn):
        names = [n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_")]
        raise InitlabError(f"{path} has no function {name!r}; it defines: {', '.join(names) or 'nothing callable'}")
    return fn, path
