"""``python -m bench [NAME ...] [-- ARGS ...]``: run benchmark modules in turn.

Every module of this package whose name does not start with ``_`` and that defines
``main`` is a benchmark. With no names, all of them run in alphabetical order; ARGS after
``--`` are passed to each ``main`` that accepts an argument list (``--help`` shows a
module's own options: ``python -m bench server_ingest -- --help``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def discover() -> dict[str, Callable[..., Any]]:
    """The benchmark modules of this package, by name, with their ``main``."""
    found: dict[str, Callable[..., Any]] = {}
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]),
                       key=lambda i: i.name):
        if info.name.startswith("_") or info.ispkg:
            continue
        module = importlib.import_module(f"{__package__ or 'bench'}.{info.name}")
        main = getattr(module, "main", None)
        if callable(main):
            found[info.name] = main
    return found


def _call(main: Callable[..., Any], args: list[str]) -> int:
    try:
        takes_args = bool(inspect.signature(main).parameters)
    except (TypeError, ValueError):
        takes_args = True
    result = main(args) if takes_args else main()
    return result if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    if any(a in {"-h", "--help"} for a in argv):
        print(__doc__)
        return 0
    available = discover()
    unknown = [name for name in argv if name not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; "
              f"available: {', '.join(available) or 'none'}", file=sys.stderr)
        return 2
    chosen = argv or list(available)
    failed: list[str] = []
    for name in chosen:
        print(f"=== bench.{name} ===", flush=True)
        started = time.monotonic()
        try:
            code = _call(available[name], extra)
        except SystemExit as exc:  # argparse --help or an error inside a benchmark
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            code = 1
        print(f"=== bench.{name}: {'ok' if code == 0 else f'FAILED ({code})'} "
              f"in {time.monotonic() - started:.0f} s ===\n", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
