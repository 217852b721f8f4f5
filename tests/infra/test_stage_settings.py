"""stack.stage_settings: AppName chosen once, in samconfig.toml, and every field derived from
it written for both tools; the web stage wired to its stack's network and database."""

import json
import tomllib

import boto3
import pytest
from moto import mock_aws

from stack import stage_settings
from stack.stage_settings import SAMCONFIG, ZAPPA_SETTINGS, StageNames
from stack.template import walk

SAMCONFIG_TEXT = SAMCONFIG.read_text()
ZAPPA = json.loads(ZAPPA_SETTINGS.read_text())


def test_the_committed_files_are_what_their_app_name_derives():
    """Nothing derived was edited by hand: rendering changes nothing."""
    app = stage_settings.app_name(SAMCONFIG_TEXT)
    assert stage_settings.render_samconfig(SAMCONFIG_TEXT, app) == SAMCONFIG_TEXT
    assert stage_settings.render_zappa(ZAPPA, app) == ZAPPA
    assert json.dumps(ZAPPA, indent=4) + "\n" == ZAPPA_SETTINGS.read_text()


def test_a_new_app_name_reaches_every_name_of_both_tools():
    samconfig = tomllib.loads(stage_settings.render_samconfig(SAMCONFIG_TEXT, "shop"))
    zappa = stage_settings.render_zappa(ZAPPA, "shop")
    for env, stage in stage_settings.CONFIG_ENVS.items():
        deploy = samconfig[env]["deploy"]["parameters"]
        assert deploy["stack_name"] == f"shop-{stage}-infra"
        assert deploy["s3_prefix"] == f"shop-{stage}"
        assert deploy["parameter_overrides"] == f"AppName=shop Stage={stage}"
    assert zappa["dev"]["project_name"] == "shop" and "project_name" not in zappa["prod"]
    for stage in ("dev", "prod"):
        settings = {**zappa["dev"], **zappa[stage]} if stage != "dev" else zappa["dev"]
        assert settings["role_name"] == f"shop-{stage}-web"
        assert settings["s3_bucket"] == f"shop-{stage}-deployments"
        assert settings["tags"] == {"app": "shop", "stage": stage}
        variables = settings["environment_variables"]
        assert variables["APP_NAME"] == "shop" and variables["APP_STAGE"] == stage
        assert variables["DJANGO_SECRET_ID"] == f"shop/{stage}/django-secret-key"
        assert variables["TASKS_SIGNING_SECRET_ID"] == f"shop/{stage}/tasks-signing-keys"
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == f"shop-{stage}"
    # Nothing else changed: the old name is gone, every other setting kept.
    values = [v for v in walk(zappa) if isinstance(v, str)]
    assert not [v for v in values if v == "app" or v.startswith(("app-", "app/"))]
    assert zappa["dev"]["exclude"] == ZAPPA["dev"]["exclude"]


def test_samconfig_keeps_its_comments_and_other_overrides():
    text = SAMCONFIG_TEXT.replace("AppName=app Stage=dev", "AppName=app Stage=dev Database=aurora")
    rendered = stage_settings.render_samconfig(text, "shop")
    assert "AppName=shop Stage=dev Database=aurora" in rendered
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert comments and comments == [row for row in rendered.splitlines() if row.startswith("#")]


@pytest.mark.parametrize("bad", ["App", "a", "1app", "app_name", "x" * 31])
def test_a_name_cloudformation_would_refuse_is_refused_first(bad, capsys):
    with pytest.raises(ValueError, match="lower-case"):
        stage_settings.validate_app_name(bad)
    assert stage_settings.main(["--app-name", bad]) == 2
    assert "AppName" in capsys.readouterr().err


def test_samconfig_without_an_app_name_is_a_clear_error():
    text = SAMCONFIG_TEXT.replace("AppName=app ", "")
    with pytest.raises(ValueError, match="names no AppName"):
        stage_settings.app_name(text)


def test_shell_lines_name_the_stage_for_teardown_and_the_runbook(capsys):
    assert stage_settings.main(["--shell", "prod"]) == 0
    app = stage_settings.app_name(SAMCONFIG_TEXT)
    assert capsys.readouterr().out.split() == [
        "export",
        f"APP_NAME={app}",
        "APP_STAGE=prod",
        f"STACK={app}-prod-infra",
        f"DJANGO_SECRET_ID={app}/prod/django-secret-key",
        f"TASKS_SIGNING_SECRET_ID={app}/prod/tasks-signing-keys",
    ]


def test_wiring_to_a_stack_without_a_database_removes_what_an_earlier_one_set():
    wired = stage_settings.wire_stack(
        ZAPPA,
        "dev",
        {
            "FunctionsSubnetIds": "subnet-a,subnet-b",
            "FunctionsSecurityGroupIds": "sg-1",
            "DatabaseSecretArn": "arn:secret",
            "DatabaseHost": "db.example",
            "DatabaseName": "app",
        },
    )
    assert wired["dev"]["vpc_config"] == {
        "SubnetIds": ["subnet-a", "subnet-b"],
        "SecurityGroupIds": ["sg-1"],
    }
    unwired = stage_settings.wire_stack(wired, "dev", {"TasksTableName": "app-dev-tasks"})
    assert unwired == ZAPPA
    # prod extends dev, but never inherits its network.
    wired_dev = stage_settings.wire_stack(
        ZAPPA, "dev", {"FunctionsSubnetIds": "subnet-a", "FunctionsSecurityGroupIds": "sg-1"}
    )
    assert {**wired_dev["dev"], **wired_dev["prod"]}["vpc_config"] == {}


def test_stage_names_match_the_templates(template):
    names = StageNames("shop", "dev")
    resources = template["Resources"]
    assert resources["WebRole"]["Properties"]["RoleName"] == {"Fn::Sub": "${AppName}-${Stage}-web"}
    assert names.zappa_fields()["role_name"] == "shop-dev-web"
    assert resources["DjangoSecretKey"]["Properties"]["Name"] == {
        "Fn::Sub": "${AppName}/${Stage}/django-secret-key"
    }
    assert names.secret_id == "shop/dev/django-secret-key"


def test_set_adds_or_replaces_a_parameter_in_every_stage():
    text = stage_settings.set_overrides(SAMCONFIG_TEXT, {"Database": "aurora"})
    text = stage_settings.set_overrides(text, {"Database": "none", "EmailSender": "a@b.example"})
    samconfig = tomllib.loads(text)
    for env, stage in stage_settings.CONFIG_ENVS.items():
        overrides = samconfig[env]["deploy"]["parameters"]["parameter_overrides"]
        app = stage_settings.app_name(SAMCONFIG_TEXT)
        assert overrides == f"AppName={app} Stage={stage} Database=none EmailSender=a@b.example"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"AppName": "x"}, "--app-name"),
        ({"Stage": "prod"}, "per config env"),
        ({"DataBase": "aurora"}, "no parameter 'DataBase'"),
        ({"OperatorEmails": "a@b.example, c@d.example"}, "no spaces"),
    ],
)
def test_set_refuses_what_sam_deploy_would_not_take(overrides, message):
    with pytest.raises(ValueError, match=message):
        stage_settings.set_overrides(SAMCONFIG_TEXT, overrides)


API = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"


def test_the_apis_url_becomes_the_public_base_url_unless_a_domain_of_your_own_is_set():
    wired = stage_settings.wire_stack(ZAPPA, "dev", {}, API)
    assert wired["dev"]["environment_variables"]["PUBLIC_BASE_URL"] == API
    again = stage_settings.wire_stack(wired, "dev", {}, API.replace("abc123", "def456"))
    assert "def456" in again["dev"]["environment_variables"]["PUBLIC_BASE_URL"]
    own = json.loads(json.dumps(ZAPPA))
    own["dev"]["environment_variables"]["PUBLIC_BASE_URL"] = "https://shop.example.com"
    kept = stage_settings.wire_stack(own, "dev", {}, API)
    assert kept["dev"]["environment_variables"]["PUBLIC_BASE_URL"] == "https://shop.example.com"
    assert stage_settings.wire_stack(ZAPPA, "dev", {}, None) == ZAPPA


def test_the_api_url_is_read_from_zappas_stack_and_none_before_it_exists(fake_aws_env):
    names = StageNames("shop", "dev")
    with mock_aws():
        assert stage_settings.zappa_api_url(names) is None
        template = {
            "Resources": {
                "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "shop-dev"}}
            }
        }
        boto3.client("cloudformation").create_stack(
            StackName="shop-dev", TemplateBody=json.dumps(template)
        )
        (api,) = boto3.client("apigateway").get_rest_apis()["items"]
        assert stage_settings.zappa_api_url(names) == (
            f"https://{api['id']}.execute-api.us-east-1.amazonaws.com/dev"
        )
