"""Flow control: concurrency and rate limits as options of a task.

options.py    Concurrency, Rate: what a task (or OPTIONS["LIMITS"]) declares
counters.py   the DynamoDB items that count, one per limit and key
gate.py       what an attempt passes before it starts, and gives back after
"""

from sqs_tasks.limits.options import Concurrency, Rate

__all__ = ["Concurrency", "Rate"]
