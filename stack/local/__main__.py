"""`python -m stack.local` runs the whole system (what `make run` calls);
`python -m stack.local fire NAME` fires a schedule of the running system now;
`python -m stack.local manage ARGS` runs a manage.py command against it."""

import argparse
import json
import os
import sys
from pathlib import Path

from stack.local import logs
from stack.local.environment import DEFAULT_DIR, Paths


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stack.local")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
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
        from stack.local.system import run_manage

        sys.exit(run_manage(paths, arguments.manage_args))
    if arguments.command == "fire":
        from stack.local.system import fire_now

        print(json.dumps(fire_now(paths, arguments.name), default=str))
        return
    run(paths, arguments.aws_port, arguments.web_port)


def run(paths: Paths, aws_port: int, web_port: int) -> None:
    """Start everything, wait for Ctrl-C (or SIGTERM), stop everything: quietly, even when
    Ctrl-C comes while it is still starting."""
    logs.emit("local", f"starting the local system (state in {paths.root})")
    try:
        from stack.local.system import LocalSystem  # moto and boto3: a second or two

        system = LocalSystem(paths, aws_port=aws_port, web_port=web_port)
    except KeyboardInterrupt:
        return
    try:
        system.start()
        system.wait()
    except KeyboardInterrupt:
        pass  # Ctrl-C before the system was up: stop what did start
    finally:
        system.stop()


if __name__ == "__main__":
    main()
