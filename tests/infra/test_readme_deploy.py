"""The README's deploy block, run as far as this machine allows, so the docs and the commands
cannot drift apart.

Each command of the block (the fenced `sh` under "Deploying to AWS") is taken in order and
checked in dry form: `make` targets with `make -n`; `sam build` through the Makefile's
build-<LogicalId> targets (SAM CLI's makefile build method; `sam build` itself when SAM CLI
is installed); `sam deploy` as the translated template deployed into moto with the
parameters the block's own commands wrote into samconfig.toml (the database on), and again
with Database=none (off); `stack.stage_settings` and `stack.first_admin` run as written, on
a copy of the project; `zappa <command>` against Zappa's own CLI, and `zappa package` for
each stage of the settings the block produced; `aws <service> <operation> --options` against
botocore's service models (the AWS CLI's). A command no rule here knows fails the test.
"""

import zipfile

import boto3
import pytest
from moto import mock_aws

from stack import sam, stage_settings

from .fake_aws import REGION
from .readme_block import TEST_PASSWORD, Run, deploy_block
from .web_packages import STAGES

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")


@pytest.fixture
def run(readme_run) -> Run:
    """The block, run once a session (conftest.py): the web packages are built from it."""
    return readme_run


def test_every_command_of_the_block_ran(run):
    assert len(run.done) == len(deploy_block())
    firsts = {command.split()[0] for command in run.done}
    assert {"make", "sam", "zappa", "aws", ".venv/bin/python"} <= firsts


def test_the_block_chooses_the_app_name_once_and_both_tools_use_it(run):
    app = run.env["APP_NAME"]
    assert app != "app"
    samconfig = run.samconfig()
    assert stage_settings.app_name((run.project / "samconfig.toml").read_text()) == app
    assert samconfig["default"]["deploy"]["parameters"]["stack_name"] == run.env["STACK"]
    assert run.zappa_settings()["dev"]["project_name"] == app


def test_the_stack_is_deployed_with_its_database_and_email(run):
    (deployment,) = run.deployments.values()
    parameters, outputs = deployment["parameters"], deployment["outputs"]
    assert parameters["Database"] == "aurora"
    assert "@" in parameters["EmailSender"] and "@" in parameters["AlarmEmail"]
    assert outputs["DatabaseSecretArn"].startswith("arn:aws:secretsmanager:")
    assert outputs["FunctionsSubnetIds"].count(",") == 1


def test_email_is_a_required_step_with_the_identity_verified_first(run):
    verified = [c for c in run.done if c.startswith("aws sesv2 create-email-identity")]
    (command,) = verified
    identity = command.split()[-1]
    (deployment,) = run.deployments.values()
    assert deployment["parameters"]["EmailSender"] == identity
    assert run.done.index(command) < next(
        i for i, c in enumerate(run.done) if c.startswith("sam deploy")
    )


def test_the_web_stage_is_wired_to_the_stacks_network_and_database(run):
    (deployment,) = run.deployments.values()
    outputs = deployment["outputs"]
    dev = run.zappa_settings()["dev"]
    assert dev["vpc_config"] == {
        "SubnetIds": outputs["FunctionsSubnetIds"].split(","),
        "SecurityGroupIds": outputs["FunctionsSecurityGroupIds"].split(","),
    }
    variables = dev["environment_variables"]
    assert variables["DATABASE_SECRET_ARN"] == outputs["DatabaseSecretArn"]
    assert variables["DATABASE_HOST"] == outputs["DatabaseHost"]
    assert variables["DATABASE_NAME"] == outputs["DatabaseName"]
    # Wired before the web app is deployed.
    wired = run.done.index("make stage-settings STAGE=dev")
    assert wired < next(i for i, c in enumerate(run.done) if c.startswith("zappa deploy"))


def test_the_first_admin_is_created_without_a_prompt(run):
    assert "createsuperuser" in run.raw_code and "interactive=False" in run.raw_code
    assert repr(TEST_PASSWORD) in run.raw_code  # from the shell's `read`, as a literal
    compile(run.raw_code, "raw_command", "exec")
    migrate = run.done.index("zappa manage dev migrate")
    assert migrate < next(i for i, c in enumerate(run.done) if "--raw" in c)


def test_teardown_names_come_from_the_stage_not_from_app_dev(run):
    teardown = [c for c in run.done if c.startswith(("sam delete", "aws s3 r", "aws dynamodb"))]
    assert len(teardown) == 4
    assert not [c for c in teardown if "app-dev" in c]


def test_without_the_database_the_same_stack_has_none(run, fake_aws_env):
    (deployment,) = run.deployments.values()
    parameters = {**deployment["parameters"], "Database": "none"}
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        outputs = sam.deploy(session, parameters=parameters)
        assert session.client("rds").describe_db_clusters()["DBClusters"] == []
        config = session.client("lambda").get_function_configuration(
            FunctionName=f"{parameters['AppName']}-dev-worker-default"
        )
    assert not {"DatabaseSecretArn", "FunctionsSubnetIds"} & set(outputs)
    assert not config.get("VpcConfig", {}).get("SubnetIds")
    assert "DATABASE_SECRET_ARN" not in config["Environment"]["Variables"]
    unwired = stage_settings.wire_stack(run.zappa_settings(), "dev", outputs)
    assert unwired["dev"]["vpc_config"] == {}
    assert "DATABASE_SECRET_ARN" not in unwired["dev"]["environment_variables"]


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_zappa_packages_each_stage_of_the_settings_the_block_wrote(web_packages, run, stage):
    with zipfile.ZipFile(web_packages[stage]) as archive:
        settings = archive.read("zappa_settings.py").decode()
    assert f"'APP_NAME': '{run.env['APP_NAME']}'" in settings
    assert f"'APP_STAGE': '{stage}'" in settings
    # The block wired dev to its database; prod, extending dev, keeps none of it.
    assert ("DATABASE_SECRET_ARN" in settings) == (stage == "dev")
