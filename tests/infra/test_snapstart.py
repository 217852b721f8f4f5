"""SnapStart (issue 18): the template turns it on where Lambda allows it, the hooks close
what must not be frozen and make each restored copy its own, and the local system plays
snapshot and restore before an environment serves."""

import random

import pytest
from django.db import connections

from sqs_tasks import aws, secrets, snapstart
from stack.local import snapshot
from stack.local.runtime import Environment, FunctionSpec
from stack.template import ROOT, resources_of_type

LAMBDA_FUNCTION = "AWS::Lambda::Function"


# ---------------------------------------------------------------- the template
def test_every_function_snapshots_its_published_versions(template, translated):
    globals_ = template["Globals"]["Function"]
    assert globals_["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert globals_["AutoPublishAlias"] == "live"
    functions = resources_of_type(translated, LAMBDA_FUNCTION)
    assert functions
    for logical_id, function in functions.items():
        properties = function["Properties"]
        assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}, logical_id
        assert properties["Runtime"] == "python3.12", logical_id  # SnapStart: 3.12 and up


def test_nothing_snapstart_excludes_is_configured(translated):
    """Not with provisioned concurrency, EFS, or ephemeral storage over 512 MB."""
    for logical_id, resource in translated["Resources"].items():
        properties = resource.get("Properties") or {}
        if resource["Type"] == "AWS::Lambda::Alias":
            assert "ProvisionedConcurrencyConfig" not in properties, logical_id
        if resource["Type"] == LAMBDA_FUNCTION:
            assert not properties.get("FileSystemConfigs"), logical_id
            storage = (properties.get("EphemeralStorage") or {}).get("Size", 512)
            assert storage <= 512, logical_id


def test_mappings_and_schedules_invoke_the_alias_never_latest(translated):
    resources = translated["Resources"]
    aliases = set(resources_of_type(translated, "AWS::Lambda::Alias"))
    for mapping in resources_of_type(translated, "AWS::Lambda::EventSourceMapping").values():
        assert mapping["Properties"]["FunctionName"]["Ref"] in aliases
    schedules = resources_of_type(translated, "AWS::Scheduler::Schedule").values()
    assert schedules
    for schedule in schedules:
        assert schedule["Properties"]["Target"]["Arn"]["Ref"] in aliases
    for config in resources_of_type(translated, "AWS::Lambda::EventInvokeConfig").values():
        assert config["Properties"]["Qualifier"] == "live"
    assert len(aliases) == len(resources_of_type(translated, LAMBDA_FUNCTION))
    assert all(resources[a]["Properties"]["Name"] == "live" for a in aliases)


# ---------------------------------------------------------------- the hooks
def test_before_the_snapshot_connections_and_clients_are_closed(monkeypatch):
    closed = []
    monkeypatch.setattr(connections, "close_all", lambda: closed.append(True))
    client, models = aws.client("sqs"), aws._models()
    snapstart.prepare_snapshot()
    assert closed == [True]
    assert aws.client("sqs") is not client  # its connection pool went with it
    assert aws._models() is models  # the loaded service models stay in the snapshot


def test_after_a_restore_clients_take_the_restored_environments_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "snapshot-environment")
    aws.reset_clients()
    assert aws.client("sqs")._request_signer._credentials.access_key == "snapshot-environment"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "restored-environment")
    snapstart.restore()
    assert aws.client("sqs")._request_signer._credentials.access_key == "restored-environment"


def test_a_restored_copy_reads_its_secrets_again(monkeypatch):
    """A snapshot may be restored days later, after the signing key or the database
    password rotated: no secret's value survives into it, or out of a restore."""
    forgotten = []
    monkeypatch.setattr(secrets, "forget", lambda: forgotten.append(True))
    snapstart.prepare_snapshot()
    snapstart.restore()
    assert forgotten == [True, True]


def draws_after_restores(restore: bool) -> list[float]:
    """Two environments restored from one snapshot: each starts from the memory the
    snapshot froze, random's state included (a fork would not show it: Python reseeds
    random in a forked child, Lambda's restore runs no such hook)."""
    random.seed(1234)
    frozen = random.getstate()
    draws = []
    for _ in range(2):
        random.setstate(frozen)
        if restore:
            snapstart.restore()
        draws.append(random.random())
    return draws


def test_copies_of_one_snapshot_draw_the_same_numbers_until_restore_reseeds():
    first, second = draws_after_restores(restore=False)
    assert first == second  # the danger: every restored copy would retry in lockstep
    first, second = draws_after_restores(restore=True)
    assert first != second


def test_apps_can_hook_in(monkeypatch):
    heard = []
    snapstart.before_snapshot.connect(lambda **kw: heard.append("before"), weak=False)
    snapstart.after_restore.connect(lambda **kw: heard.append("after"), weak=False)
    try:
        snapstart.prepare_snapshot()
        snapstart.restore()
    finally:
        snapstart.before_snapshot.receivers.clear()
        snapstart.after_restore.receivers.clear()
    assert heard == ["before", "after"]


def test_the_hooks_are_registered_with_the_runtime_and_warm_only_for_a_snapshot(monkeypatch):
    from snapshot_restore_py import get_after_restore, get_before_snapshot

    # django.setup() already registered them (sqs_tasks.apps), as on Lambda.
    assert snapstart.prepare_snapshot in [hook for hook, _, _ in get_before_snapshot()]
    assert snapstart.restore in [hook for hook, _, _ in get_after_restore()]
    warmed = []
    monkeypatch.setattr(snapstart, "warm", lambda: warmed.append(True))
    monkeypatch.delenv(snapstart.INITIALIZATION_TYPE, raising=False)
    assert snapstart.register() is True and warmed == []
    monkeypatch.setenv(snapstart.INITIALIZATION_TYPE, snapstart.SNAP_START)
    assert snapstart.register() is True and warmed == [True]
    get_before_snapshot()[:] = get_before_snapshot()[:1]
    get_after_restore()[:] = get_after_restore()[:1]


def test_warming_loads_the_tasks_and_the_service_models(monkeypatch):
    made = []
    monkeypatch.setattr(snapstart.aws, "client", made.append)
    snapstart.warm()
    assert made == list(snapstart.SERVICES)
    import sys

    assert "django_app.reports.tasks" in sys.modules


# ---------------------------------------------------------------- the local system
def invoke_once(snap_start: bool) -> dict:
    """Start a local execution environment of tests/infra/snapstart_handler.py and invoke it."""
    spec = FunctionSpec(
        name="snapstart-test",
        handler="tests/infra/snapstart_handler.handler",
        timeout=10,
        environment={"PYTHONPATH": str(ROOT)},
        snap_start=snap_start,
    )
    env = Environment(spec, str(ROOT))
    try:
        return env.invoke({})
    finally:
        env.stop()


@pytest.mark.slow
def test_a_local_environment_is_snapshotted_and_restored_before_it_serves():
    answer = invoke_once(snap_start=True)
    assert [what for what, _ in answer["ran"]] == ["before snapshot", "after restore"]
    assert answer["initialization_type"] == "snap-start"


@pytest.mark.slow
def test_without_snapstart_no_hook_runs():
    answer = invoke_once(snap_start=False)
    assert answer["ran"] == [] and answer["initialization_type"] is None


def test_after_restore_hooks_past_lambdas_limit_fail_the_restore(monkeypatch):
    from snapshot_restore_py import get_after_restore, register_after_restore

    registry = get_after_restore()
    saved = list(registry)
    monkeypatch.setattr(snapshot, "AFTER_RESTORE_LIMIT", 0.01)
    register_after_restore(lambda: __import__("time").sleep(0.05))
    try:
        with pytest.raises(snapshot.RestoreTimeout, match="Lambda allows 10"):
            snapshot.snapshot_and_restore(lambda line: None)
    finally:
        registry[:] = saved
