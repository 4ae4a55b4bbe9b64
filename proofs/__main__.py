"""``python -m proofs [SUITE ...] [--short|--long] [--keep] [--seed N]``: run proof suites, print
each table, exit 1 when a promise is broken (2 on a usage error).  Each suite module ends with
``sys.exit(main([SUITE, *sys.argv[1:]]))`` so that ``python -m proofs.<suite>`` works too."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from . import SUITES
from .harness import Mode
from .report import Result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proofs", description=__doc__)
    parser.add_argument("suites", nargs="*", metavar="SUITE",
                        help=f"suites to run (default all): {', '.join(SUITES)}")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--short", dest="mode", action="store_const", const="short")
    length.add_argument("--long", dest="mode", action="store_const", const="long")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the suites' random choices (default: each suite's own)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite {', '.join(unknown)} (known: {', '.join(SUITES)})")
    mode = Mode(args.mode or "short", keep=args.keep, seed=args.seed)
    code = 0
    for name in args.suites or list(SUITES):
        code = max(code, run_one(name, mode))
    return code


def run_one(name: str, mode: Mode) -> int:
    """One suite, its table printed; a suite that raises is a broken promise, not a crash."""
    started = time.monotonic()
    try:
        result = importlib.import_module(SUITES[name]).run(mode)
    except Exception as exc:
        traceback.print_exc()
        result = Result(name, mode.name)
        result.promise("the suite ran to the end", False, f"{type(exc).__name__}: {exc}")
    result.figure("suite wall time, s", round(time.monotonic() - started, 1))
    result.print()
    return result.exit_code()


if __name__ == "__main__":
    sys.exit(main())
