"""One Lambda execution environment: a subprocess that imports a handler once, then
answers invocations read from stdin, one JSON line each.

The handler runs in this process's main thread, as on Lambda, so time limits that use
SIGALRM work. Its prints and logs go to stderr, which the parent tags and shows; stdout
carries only the answers.

The parent owns this process's life: it stops it (on Ctrl-C, or when an invocation runs
past the timeout) by killing it. So the terminal's Ctrl-C, which reaches every process in
the foreground group, is ignored here, where it would only print a KeyboardInterrupt
traceback from a process about to be killed anyway.
"""

import importlib
import json
import os
import signal
import sys
import traceback

from sqs_tasks.lambda_events import LambdaContext
from stack.local.snapshot import log_line, snapshot_and_restore


def load(handler: str):  # noqa: ANN201 - any Lambda handler
    module, _, function = handler.replace("/", ".").rpartition(".")
    return getattr(importlib.import_module(module), function)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    handler_path, function_name, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    snap_start = sys.argv[4:] == ["snap-start"]
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = function_name  # as Lambda sets it
    if snap_start:
        os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # the handler's prints (and EMF lines) become log lines
    handler = load(handler_path)
    if snap_start:
        snapshot_and_restore(log_line)
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        invocation = json.loads(line)
        context = LambdaContext(
            function_name=function_name,
            timeout_seconds=timeout,
            aws_request_id=invocation["request_id"],
        )
        try:
            answer = {"result": handler(invocation["event"], context)}
        except Exception as error:  # Lambda reports a raised error as the invocation's
            traceback.print_exc()
            answer = {"error": f"{type(error).__name__}: {error}"}
        answers.write(json.dumps(answer, default=str) + "\n")


if __name__ == "__main__":
    main()
