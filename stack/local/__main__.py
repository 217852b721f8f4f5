"""`python -m stack.local` runs the whole system (what `make run` calls);
`python -m stack.local fire NAME` fires a schedule of the running system now."""

import argparse
import json
import os
import sys
from pathlib import Path

from stack.local.system import LocalSystem, Paths, fire_now, run_manage
from stack.template import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stack.local")
    parser.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("LOCAL_STACK_DIR", ROOT / "var" / "local"))
    )
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("LOCAL_AWS_PORT", 4566)))
    parser.add_argument("--web-port", type=int, default=int(os.environ.get("LOCAL_WEB_PORT", 8000)))
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="start everything (the default)")
    fire = commands.add_parser("fire", help="fire a schedule now")
    fire.add_argument("name")
    manage = commands.add_parser("manage", help="run a manage.py command against it")
    manage.add_argument("manage_args", nargs=argparse.REMAINDER)
    arguments = parser.parse_args()
    paths = Paths(arguments.dir.resolve())

    if arguments.command == "manage":
        sys.exit(run_manage(paths, arguments.manage_args))
    if arguments.command == "fire":
        print(json.dumps(fire_now(paths, arguments.name), default=str))
        return
    system = LocalSystem(paths, aws_port=arguments.aws_port, web_port=arguments.web_port)
    try:
        system.start()
        system.wait()
    finally:
        system.stop()


if __name__ == "__main__":
    main()
