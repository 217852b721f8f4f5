"""The chaos world (issue 12): thousands of tasks through the real handler on a virtual clock,
under AWS's fault model, and an audit of what came of each one.

    simulation.py   the virtual clock, processes (greenlets), a virtual SIGALRM per process
    sqs.py          Amazon SQS in memory, on that clock, with its real semantics
    faults.py       what goes wrong, and when: refused calls, lost responses, crashes
    tasks.py        the task bodies: each records what it did in the ledger
    ledger.py       what happened, written as it happened, and the audit of it
    world.py        Lambda's event source mappings, the web processes, the schedules
    speed.py        moto's item responses without its slow generic serializer

`tests/chaos/test_chaos.py` runs a small world in the suite; `make chaos` runs a big one and
writes its section of BENCHMARKS.md (bench/chaos.py). Nothing here ships: tests/ is outside
the Lambda artifact (stack/artifact.py SOURCES) and Zappa's package (exclude_glob).
"""
