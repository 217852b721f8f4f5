"""What moto lacks for this template, added to it for the offline deploy.

SAM turns `AutoPublishAlias` (SnapStart needs published versions) into an
AWS::Lambda::Version and an AWS::Lambda::Alias, and points each SQS event source mapping
and schedule at the alias. moto's CloudFormation creates versions but skips aliases, so the
mappings would name nothing; its versions answer no `!GetAtt Version.Version`, which
the alias reads. This registers both types with moto's CloudFormation (a model defined
later wins there), through the Lambda backend moto already has (PublishVersion,
CreateAlias), so the deployed stack is the template's.

moto keeps an AWS::NoValue inside a list as null, where CloudFormation leaves it out:
`install` makes it leave it out too.

moto's CloudFormation skips AWS::SecretsManager::Secret too, so a function that reads a
secret at run time (the task signing keys) would find none. SecretResource creates it
through moto's Secrets Manager backend, generating its value as CloudFormation does
(GenerateSecretString, with SecretStringTemplate and GenerateStringKey for a JSON value).
"""

import json
from typing import Any

from moto.awslambda.models import LambdaBackend, lambda_backends
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel
from moto.secretsmanager.models import secretsmanager_backends


class _ArnResource:
    """A resource made through one of moto's service backends; its Ref is its ARN."""

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
    ) -> "_ArnResource":
        properties = cloudformation_json.get("Properties", {})
        return cls.create(properties, cls.backends[account_id][region_name], resource_name)

    backends: Any = None  # moto's BackendDict of the service

    @classmethod
    def create(cls, properties: dict[str, Any], backend: Any, logical_id: str) -> "_ArnResource":
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


class _LambdaResource(_ArnResource):
    backends = lambda_backends


class LambdaVersionResource(_LambdaResource, CloudFormationModel):
    """AWS::Lambda::Version: Ref is the version's ARN, GetAtt Version its number."""

    attribute_names = ("Version",)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Version"

    @classmethod
    def create(
        cls, properties: dict[str, Any], backend: LambdaBackend, logical_id: str
    ) -> _ArnResource:
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
    def create(
        cls, properties: dict[str, Any], backend: LambdaBackend, logical_id: str
    ) -> _ArnResource:
        alias = backend.create_alias(
            name=properties["Name"],
            function_name=properties["FunctionName"],
            function_version=str(properties["FunctionVersion"]),
            description=properties.get("Description", ""),
            routing_config=properties.get("RoutingConfig"),
        )
        return cls(alias.arn, {})


class SecretResource(_ArnResource, CloudFormationModel):
    """AWS::SecretsManager::Secret: its Ref (and Id) is the secret's ARN."""

    backends = secretsmanager_backends
    attribute_names = ("Id",)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create(cls, properties: dict[str, Any], backend: Any, logical_id: str) -> _ArnResource:
        value = properties.get("SecretString")
        if value is None:
            value = generated_secret_string(backend, properties.get("GenerateSecretString", {}))
        created = backend.create_secret(
            name=properties.get("Name") or logical_id,
            secret_string=value,
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags"),
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn = json.loads(created)["ARN"]
        return cls(arn, {"Id": arn})


def generated_secret_string(backend: Any, spec: dict[str, Any]) -> str:
    """A value as GenerateSecretString makes it: a random password, alone or put under
    GenerateStringKey in the SecretStringTemplate's JSON object."""
    password = json.loads(
        backend.get_random_password(
            password_length=int(spec.get("PasswordLength", 32)),
            exclude_characters=spec.get("ExcludeCharacters", ""),
            exclude_numbers=bool(spec.get("ExcludeNumbers", False)),
            exclude_punctuation=bool(spec.get("ExcludePunctuation", False)),
            exclude_uppercase=bool(spec.get("ExcludeUppercase", False)),
            exclude_lowercase=bool(spec.get("ExcludeLowercase", False)),
            include_space=bool(spec.get("IncludeSpace", False)),
            require_each_included_type=bool(spec.get("RequireEachIncludedType", True)),
        )
    )["RandomPassword"]
    if "SecretStringTemplate" not in spec:
        return password
    value = json.loads(spec["SecretStringTemplate"])
    value[spec["GenerateStringKey"]] = password
    return json.dumps(value)


def install() -> None:
    """Make moto's CloudFormation see the models above (it caches its map of types), and
    drop AWS::NoValue from lists as CloudFormation does."""
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    if parsing.clean_json is not _clean_json_dropping_no_value:
        global _moto_clean_json
        _moto_clean_json = parsing.clean_json
        parsing.clean_json = _clean_json_dropping_no_value


_moto_clean_json: Any = None


def _clean_json_dropping_no_value(resource_json: Any, resources_map: Any) -> Any:
    """moto's clean_json, but an element of a list that resolves to nothing (a `!If`
    whose branch is AWS::NoValue, e.g. a policy statement that applies only with a
    parameter) is left out, not kept as null: IAM would refuse the policy. moto's own
    recursion goes through this one (it calls the module's clean_json)."""
    if isinstance(resource_json, list):
        cleaned = (_clean_json_dropping_no_value(item, resources_map) for item in resource_json)
        return [item for item in cleaned if item is not None]
    return _moto_clean_json(resource_json, resources_map)
