"""The template three ways, shared by the infrastructure tests: as written (SAM), as
CloudFormation receives it (translated offline), and as deployed (into moto)."""

import re
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

import boto3
import pytest
from moto import mock_aws

from stack import sam
from stack.template import Template, load_template

REGION = "us-east-1"
FAKE_AWS_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


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
