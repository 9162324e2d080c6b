"""Importing a Python file the user named (and only that file), with errors in one line."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
from pathlib import Path
from types import ModuleType

from initlab.errors import InitlabError


def import_file(path: str | Path, *, quiet: bool = True) -> ModuleType:
    """Import ``path`` as a module of its own; anything it prints at import is swallowed when
    ``quiet``. A missing file, a non-.py file or an import that raises is an `InitlabError`."""
    path = Path(path)
    if not path.is_file():
        raise InitlabError(f"{path} does not exist or is not a file")
    if path.suffix != ".py":
        raise InitlabError(f"{path} is not a Python file (.py)")
    name = "initlab_user_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            spec.loader.exec_module(module)
    except Exception as e:  # the user's code: any error is theirs to see, in one line
        line = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise InitlabError(f"importing {path} failed: {type(e).__name__}: {line}") from None
    return module
