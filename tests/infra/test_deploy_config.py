"""samconfig.toml deploys each stage to the stack and names zappa_settings.json expects."""

import json
import tomllib

import pytest

from stack.template import ROOT

SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text())
ZAPPA = json.loads((ROOT / "zappa_settings.json").read_text())


@pytest.mark.parametrize(("config_env", "stage"), [("default", "dev"), ("prod", "prod")])
def test_each_sam_config_env_deploys_one_stage_like_zappa_names_it(config_env, stage):
    app = ZAPPA["dev"]["project_name"]
    deploy = SAMCONFIG[config_env]["deploy"]["parameters"]
    # Not {app}-{stage}: Zappa names its API Gateway stack after the web function.
    assert deploy["stack_name"] == f"{app}-{stage}-infra"
    assert deploy["s3_prefix"] == f"{app}-{stage}"
    assert deploy["parameter_overrides"] == f"AppName={app} Stage={stage}"
    assert set(deploy["capabilities"].split()) == {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}
    assert deploy["resolve_s3"] is True
    assert SAMCONFIG[config_env]["build"]["parameters"]["build_in_source"] is True
