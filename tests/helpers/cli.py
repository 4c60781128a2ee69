"""Running ``mailwatch COMMAND`` in this process, for tests that call the commands many times.

A ``python -m mailwatch`` process spends most of a second importing (pydantic building the
config's models, SQLAlchemy) before the command's first line runs; a test file calling the
commands a hundred times spent most of its time there. ``in_process`` calls the same entry
point (``mailwatch.cli.main.main``) with the same arguments and environment, and gives back
what a process would have: the exit code (``SystemExit`` included, as argparse raises it),
stdout and stderr. What only a process shows (signals, a broken pipe, log lines through the
root logger's stderr handler, the interpreter's own startup) stays with the tests that start
one (tests/cli/test_global_options.py, test_broken_pipe.py, test_database_files.py and others).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Mapping

from mailwatch.cli.main import main


def in_process(
    argv: list[str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(["mailwatch", *argv], code, out.getvalue(), err.getvalue())
