"""The ``promptkit`` command line: a thin shell over the library.

Each command group lives in its own module exposing ``register(subparsers)``; handlers import the library lazily
so ``promptkit --help`` stays fast. Exit codes: 0 success, 1 a check failed, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from promptkit.version import __version__
from promptkit.errors import PromptkitError

# command-group modules, in help order
GROUPS = ("init", "models", "prompts", "index", "chains", "evalcmd", "squad", "ui")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one line (argparse's own convention, kept short)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="promptkit", description="Offline-first prompt engineering toolkit.")
    parser.add_argument("--version", action="version", version=f"promptkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in GROUPS:
        importlib.import_module(f"promptkit.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except PromptkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # the file system refused something (permissions, a folder for a file, disk full)
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot access{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
