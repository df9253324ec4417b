"""``python -m rllib_integration.embedded run SCRIPT.py --town TOWN -- SCRIPT_ARGS``: run a CARLA
client script, unmodified, against an embedded world (see :mod:`.runner`)."""

from __future__ import annotations

import argparse
import logging
import sys

from .maps.towns import UnknownTownError, available_towns
from .runner import RunnerError, run_script
from .server import DEFAULT_TOWN


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rllib_integration.embedded",
        description="Tools of the embedded CARLA-compatible world.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="run an unmodified CARLA client script against an embedded world",
        description="Run SCRIPT as __main__ with carla.Client and carla.command pointing at an embedded "
                    "world that free-runs in real time in asynchronous mode, as a CARLA server. "
                    "Arguments after -- go to the script.")
    run.add_argument("script", help="path of the CARLA client script (.py)")
    run.add_argument("--town", default=DEFAULT_TOWN,
                     help=f"town to load first: {', '.join(available_towns())}, a CARLA town name "
                          f"(with CARLA_ROOT set) or an .xodr path (default: {DEFAULT_TOWN})")
    run.add_argument("--port", type=int, default=2000,
                     help="port the script's carla.Client connects to (default: 2000, CARLA's)")
    run.add_argument("--stop-after", type=float, default=None, metavar="SECONDS",
                     help="interrupt the script after SECONDS of wall time, as Ctrl-C would "
                          "(default: let it run to its end)")
    run.add_argument("--verbose", action="store_true", help="log the embedded world's debug messages")
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return run_script(args.script, script_args, args.town, args.port, args.stop_after, keep_server=True)
    except (RunnerError, UnknownTownError) as error:
        parser.error(str(error))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
