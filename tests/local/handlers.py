"""Tiny Lambda handlers for the local runtime's own tests."""

import os
import time


def echo(event, context):
    return {"event": event, "pid": os.getpid(), "function": context.function_name}


def sleepy(event, context):
    time.sleep(event["seconds"])
    return {"pid": os.getpid()}


def broken(event, context):
    if event.get("fail"):
        raise RuntimeError("handler failed")
    return {"pid": os.getpid()}
