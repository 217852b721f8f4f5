"""The template three ways, shared by the infrastructure tests: as written (SAM), as
CloudFormation receives it (translated offline), and as deployed (into moto); and the
README's deploy block run once, with the web packages built from what it wrote."""

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from moto import mock_aws

from stack import sam
from stack.template import Template, load_template

from .fake_aws import FAKE_AWS_ENV, REGION
from .readme_block import Run, run_block
from .web_packages import STAGES, clone, package_stages


class Deployment(NamedTuple):
    session: boto3.session.Session
    outputs: dict[str, str]
    # Resource types moto's CloudFormation accepted but did not create.
    skipped_types: set[str]


class DiscardingS3:
    """Stands in for S3 where a test only needs the packaged template, not the upload."""

    def put_object(self, **kwargs: Any) -> None:
        pass


def translate_offline(template: Template, parameters: dict[str, str] | None = None) -> Template:
    packaged = sam.package_code(template, s3=DiscardingS3(), bucket="artifacts")
    return sam.translate(packaged, region=REGION, parameters=parameters)


@pytest.fixture(scope="session")
def template() -> Template:
    return load_template()


@pytest.fixture(scope="session")
def translated(template) -> Template:
    return translate_offline(template)


@pytest.fixture(scope="module")
def fake_aws_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS_ENV.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        yield


@pytest.fixture(scope="module")
def deployed(fake_aws_env) -> Iterator[Deployment]:
    """The template deployed with its defaults (app, dev) into a fresh moto account."""
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outputs = sam.deploy(session)
        skipped = {
            match.group(1)
            for warning in caught
            if (
                match := re.search(
                    r"Tried to parse (\S+) but it's not supported", str(warning.message)
                )
            )
        }
        yield Deployment(session, outputs, skipped)


@pytest.fixture(scope="session")
def readme_run(tmp_path_factory) -> Run:
    """The README's deploy block, run on a clone of the project that `make run` has left
    its local secrets in (tests/infra/readme_block.py)."""
    return run_block(clone(tmp_path_factory.mktemp("readme") / "project"))


@pytest.fixture(scope="session")
def web_packages(readme_run, tmp_path_factory) -> dict[str, Path]:
    """`zappa package <stage>` for each stage, once a session, on the settings the block
    wrote (test_zappa.py and test_readme_deploy.py check them; both run in the xdist group
    `artifacts`, so on one worker, which builds them once)."""
    return package_stages(readme_run.project, STAGES, tmp_path_factory.mktemp("packages"))
