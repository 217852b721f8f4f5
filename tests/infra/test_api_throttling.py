"""Issue 15: API Gateway throttles each web stage, through Zappa's `post` callback (Zappa
0.63 has no setting for it), so a flood is answered with 429 before Lambda runs."""

import json
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws
from zappa.cli import ZappaCLI

from stack import api_throttling
from stack.template import ROOT

SETTINGS = json.loads((ROOT / "zappa_settings.json").read_text())
REGION = "eu-west-1"


@pytest.fixture
def rest_api():
    """A deployed REST API with a stage, as `zappa deploy` leaves it (moto)."""
    with mock_aws():
        client = boto3.client("apigateway", region_name=REGION)
        api_id = client.create_rest_api(name="app-dev")["id"]
        root = client.get_resources(restApiId=api_id)["items"][0]["id"]
        client.put_method(
            restApiId=api_id, resourceId=root, httpMethod="ANY", authorizationType="NONE"
        )
        client.put_integration(restApiId=api_id, resourceId=root, httpMethod="ANY", type="MOCK")
        client.create_deployment(restApiId=api_id, stageName="dev")
        yield client, api_id


def zappa_cli(stage: str, client, api_id: str) -> ZappaCLI:
    """Zappa's CLI as it stands when it runs the `post` callback, talking to moto."""
    cli = ZappaCLI()
    cli.zappa_settings, cli.api_stage, cli.lambda_name = SETTINGS, stage, f"app-{stage}"
    cli.zappa = SimpleNamespace(
        get_api_id=lambda lambda_name: api_id if lambda_name == cli.lambda_name else None,
        apigateway_client=client,
    )
    return cli


@pytest.mark.parametrize(("stage", "rate", "burst"), [("dev", 20.0, 40), ("prod", 50.0, 100)])
def test_each_stage_is_throttled_by_zappas_post_callback(rest_api, monkeypatch, stage, rate, burst):
    client, api_id = rest_api
    monkeypatch.chdir(ROOT)  # Zappa finds callbacks from the working directory
    cli = zappa_cli(stage, client, api_id)
    assert cli.stage_config["callbacks"]["post"] == "stack.api_throttling.apply"
    client.create_deployment(restApiId=api_id, stageName=stage)
    cli.callback("post")
    settings = client.get_stage(restApiId=api_id, stageName=stage)["methodSettings"]["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (rate, burst)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"throttling_rate_limit": 20},
        {"throttling_rate_limit": 0, "throttling_burst_limit": 40},
        {"throttling_rate_limit": 20, "throttling_burst_limit": 0},
        {"throttling_rate_limit": "20", "throttling_burst_limit": 40},
        {"throttling_rate_limit": 20, "throttling_burst_limit": 2.5},
        {"throttling_rate_limit": True, "throttling_burst_limit": 40},
    ],
)
def test_a_stage_without_sound_limits_fails_the_deploy(config):
    with pytest.raises(ValueError, match="throttling_"):
        api_throttling.throttling_of(config)


def test_no_api_no_throttling(rest_api):
    client, _ = rest_api
    cli = zappa_cli("dev", client, None)
    api_throttling.apply(cli)  # apigateway_enabled: false leaves nothing to throttle
