"""Check-in SIGKILL soak (issue 4): a real kiosk process records check-ins (buttons, ID card
scans, staff records) and is killed with SIGKILL at random points, again and again, against a
real server on 127.0.0.1; then it syncs, and the server must hold every check-in confirmed on
screen exactly once, and nothing else but the one in flight at a kill.

The harness is the test suite's (tests/e2e/checkin_reliability.py; its docstring says exactly
what is done and checked); the suite runs it for 2,000 check-ins, this runs it longer
(``--checkins``, default 10,000) and prints the figures: kills, attempts, how many check-ins
were committed but killed before their confirmation, how many acknowledged records were still
in the outbox at a kill (resent afterwards, absorbed by the server), the final sync time.

    python -m bench checkin_kill_soak -- --help
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

from ._common import REPO, machine, say, temp_folder

sys.path.insert(0, str(REPO / "tests" / "e2e"))
import checkin_reliability  # the harness lives beside the test that runs it in the suite


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench checkin_kill_soak",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkins", type=int, default=10_000,
                        help="confirmed check-ins to reach")
    parser.add_argument("--seed", type=int, default=None, help="replay a run's kill points")
    parser.add_argument("--min-per-run", type=int, default=40,
                        help="fewest confirmations before a kill")
    parser.add_argument("--max-per-run", type=int, default=400,
                        help="most confirmations before a kill")
    parser.add_argument("--quick", action="store_true",
                        help="200 check-ins: checks the benchmark works")
    parser.add_argument("--json", dest="json_out", metavar="FILE",
                        help="also write the figures to FILE as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.checkins, args.min_per_run, args.max_per_run = 200, 20, 80
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    say(f"checkin_kill_soak on {machine()}; seed {seed}; load average "
        f"{os.getloadavg()[0]:.2f}")
    settings = checkin_reliability.KillSettings(
        checkins=args.checkins, seed=seed, min_per_run=args.min_per_run,
        max_per_run=args.max_per_run, log=say)
    with temp_folder("bench-checkin-kill-") as work, \
            checkin_reliability.kill_run(settings, work) as run:
        report = run.run()
    figures = report.figures()
    figures["load_average_end"] = round(os.getloadavg()[0], 2)
    say(json.dumps(figures, indent=1))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(figures, indent=2))
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
