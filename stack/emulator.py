"""What moto lacks for this template, added to it for the offline deploy.

SAM turns `AutoPublishAlias` (SnapStart needs published versions) into an
AWS::Lambda::Version and an AWS::Lambda::Alias, and points each SQS event source mapping
and schedule at the alias. moto's CloudFormation creates versions but skips aliases, so the
mappings would name nothing; its versions answer no `!GetAtt Version.Version`, which
the alias reads. This registers both types with moto's CloudFormation (a model defined
later wins there), through the Lambda backend moto already has (PublishVersion,
CreateAlias), so the deployed stack is the template's.
"""

from typing import Any

from moto.awslambda.models import LambdaBackend, lambda_backends
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel


class _LambdaResource:
    """A resource made through moto's Lambda backend; its Ref is its ARN."""

    def __init__(self, arn: str, attributes: dict[str, str]) -> None:
        self.arn = arn
        self.attributes = attributes

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> "_LambdaResource":
        backend = lambda_backends[account_id][region_name]
        return cls.create(cloudformation_json["Properties"], backend)

    @classmethod
    def create(cls, properties: dict[str, Any], backend: LambdaBackend) -> "_LambdaResource":
        raise NotImplementedError

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attribute_names

    attribute_names: tuple[str, ...] = ()

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return self.attributes[attribute_name]

    @property
    def physical_resource_id(self) -> str:
        return self.arn


class LambdaVersionResource(_LambdaResource, CloudFormationModel):
    """AWS::Lambda::Version: Ref is the version's ARN, GetAtt Version its number."""

    attribute_names = ("Version",)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Version"

    @classmethod
    def create(cls, properties: dict[str, Any], backend: LambdaBackend) -> _LambdaResource:
        published = backend.publish_version(
            properties["FunctionName"], properties.get("Description", "")
        )
        return cls(published.function_arn, {"Version": str(published.version)})


class LambdaAliasResource(_LambdaResource, CloudFormationModel):
    """AWS::Lambda::Alias: its Ref is the alias ARN, as in CloudFormation."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Alias"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create(cls, properties: dict[str, Any], backend: LambdaBackend) -> _LambdaResource:
        alias = backend.create_alias(
            name=properties["Name"],
            function_name=properties["FunctionName"],
            function_version=str(properties["FunctionVersion"]),
            description=properties.get("Description", ""),
            routing_config=properties.get("RoutingConfig"),
        )
        return cls(alias.arn, {})


def install() -> None:
    """Make moto's CloudFormation see the models above (it caches its map of types)."""
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
