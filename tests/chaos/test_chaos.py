"""The chaos test, small (issue 12): a few hundred tasks per seed through the real handler,
on a virtual clock, with AWS failing in every way the ledger can tell apart. `make chaos`
runs the big one (3,000 tasks x 3 seeds) and writes BENCHMARKS.md's section.

Each count must be 0: lost, doubled, early, stuck, wrong outcome, false dead letters.
"""

import pytest

from tests.chaos.world import ChaosConfig, run_world

pytestmark = pytest.mark.usefixtures("transactional_db")

# A small world: fewer tasks, and deferrals and Retry-Afters of minutes rather than hours,
# so fewer virtual hours of reconcile-tasks runs (each reads every dead letter kept).
SMALL = dict(tasks=50, deferred_hours=(0.5, 2.0), retry_after_seconds=(300.0, 1200.0))


@pytest.mark.parametrize("seed", [1, 2])
def test_nothing_is_lost_doubled_early_stuck_wrong_or_falsely_dead_lettered(seed, tmp_path):
    log = tmp_path / f"chaos-seed-{seed}.log"
    report = run_world(ChaosConfig(seed=seed, **SMALL), log=log)
    summary = "\n".join([*report.lines(), f"  the system's log: {log}"])
    print(summary)
    assert report.drained, "the world never drained\n" + summary
    assert report.audit.clean, summary
