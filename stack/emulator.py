"""What moto lacks for this template, added to it for the offline deploy.

SAM turns `AutoPublishAlias` (SnapStart needs published versions) into an
AWS::Lambda::Version and an AWS::Lambda::Alias, and points each SQS event source mapping
and schedule at the alias. moto's CloudFormation creates versions but skips aliases, so the
mappings would name nothing; its versions answer no `!GetAtt Version.Version`, which
the alias reads. This registers both types with moto's CloudFormation (a model defined
later wins there), through the Lambda backend moto already has (PublishVersion,
CreateAlias), so the deployed stack is the template's.

moto's CloudFormation has no AWS::RDS::DBCluster at all, and its AWS::RDS::DBInstance
drops DBClusterIdentifier, so the stack's own database (Database=aurora) is registered here
too, through moto's RDS backend: the cluster with the secret RDS manages for it
(ManageMasterUserPassword, in moto's Secrets Manager), its Endpoint and MasterUserSecret
attributes, and its serverless writer.

moto's CloudFormation skips AWS::SecretsManager::Secret too, so a function that reads a
secret at run time (the task signing keys) would find none. SecretResource creates it
through moto's Secrets Manager backend, generating its value as CloudFormation does
(GenerateSecretString, with SecretStringTemplate and GenerateStringKey for a JSON value).

moto keeps an AWS::NoValue inside a list as null, where CloudFormation leaves it out:
`install` makes it leave it out too.
"""

import json
from typing import Any, NamedTuple

from moto.awslambda.models import LambdaBackend, lambda_backends
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel
from moto.rds.models import DBInstance, RDSBackend, rds_backends
from moto.secretsmanager.models import secretsmanager_backends


class _EmulatedResource:
    """A resource made through one of moto's backends: what its Ref and GetAtt answer."""

    attribute_names: tuple[str, ...] = ()

    def __init__(self, physical_id: str, attributes: dict[str, str]) -> None:
        self.physical_id = physical_id
        self.attributes = attributes

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attribute_names

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return self.attributes[attribute_name]

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        return cls.create(
            cloudformation_json["Properties"], Where(resource_name, account_id, region_name)
        )

    @classmethod
    def create(cls, properties: dict[str, Any], where: "Where") -> Any:
        raise NotImplementedError


class Where(NamedTuple):
    """The resource's logical id, and the account and region of its stack."""

    resource_name: str
    account_id: str
    region_name: str

    def lambda_backend(self) -> LambdaBackend:
        return lambda_backends[self.account_id][self.region_name]

    def rds_backend(self) -> RDSBackend:
        return rds_backends[self.account_id][self.region_name]

    def secretsmanager_backend(self) -> Any:
        return secretsmanager_backends[self.account_id][self.region_name]


class _LambdaResource(_EmulatedResource):
    """A resource made through moto's Lambda backend; its Ref is its ARN."""


class LambdaVersionResource(_LambdaResource, CloudFormationModel):
    """AWS::Lambda::Version: Ref is the version's ARN, GetAtt Version its number."""

    attribute_names = ("Version",)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Version"

    @classmethod
    def create(cls, properties: dict[str, Any], where: Where) -> _LambdaResource:
        published = where.lambda_backend().publish_version(
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
    def create(cls, properties: dict[str, Any], where: Where) -> _LambdaResource:
        alias = where.lambda_backend().create_alias(
            name=properties["Name"],
            function_name=properties["FunctionName"],
            function_version=str(properties["FunctionVersion"]),
            description=properties.get("Description", ""),
            routing_config=properties.get("RoutingConfig"),
        )
        return cls(alias.arn, {})


class DBClusterResource(_EmulatedResource, CloudFormationModel):
    """AWS::RDS::DBCluster: Ref is the cluster's identifier (lower case, as RDS keeps it)."""

    attribute_names = (
        "Endpoint.Address",
        "Endpoint.Port",
        "ReadEndpoint.Address",
        "MasterUserSecret.SecretArn",
        "DBClusterArn",
    )

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::RDS::DBCluster"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "DBClusterIdentifier"

    @classmethod
    def create(cls, properties: dict[str, Any], where: Where) -> "DBClusterResource":
        scaling = properties.get("ServerlessV2ScalingConfiguration")
        # moto resolves a Ref to its subnet group to the group itself, not its name.
        subnet_group = properties.get("DBSubnetGroupName")
        cluster = where.rds_backend().create_db_cluster(
            {
                "db_cluster_identifier": properties.get("DBClusterIdentifier", where.resource_name),
                "engine": properties["Engine"],
                "engine_version": properties.get("EngineVersion"),
                "database_name": properties.get("DatabaseName"),
                "master_username": properties.get("MasterUsername"),
                "master_user_password": properties.get("MasterUserPassword"),
                "manage_master_user_password": properties.get("ManageMasterUserPassword"),
                "db_subnet_group_name": getattr(subnet_group, "name", subnet_group),
                "vpc_security_group_ids": properties.get("VpcSecurityGroupIds", []),
                "storage_encrypted": properties.get("StorageEncrypted", False),
                "backup_retention_period": properties.get("BackupRetentionPeriod", 1),
                "deletion_protection": properties.get("DeletionProtection", False),
                "copy_tags_to_snapshot": properties.get("CopyTagsToSnapshot", False),
                "serverless_v2_scaling_configuration": scaling
                and {
                    "min_capacity": float(scaling["MinCapacity"]),
                    "max_capacity": float(scaling["MaxCapacity"]),
                },
            }
        )
        attributes = {
            "Endpoint.Address": cluster.endpoint,
            "Endpoint.Port": str(cluster.port),
            "ReadEndpoint.Address": cluster.reader_endpoint,
            "DBClusterArn": cluster.db_cluster_arn,
        }
        if cluster.manage_master_user_password:
            attributes["MasterUserSecret.SecretArn"] = cluster.master_user_secret.secret_arn
        return cls(cluster.db_cluster_identifier, attributes)


class DBInstanceResource(_EmulatedResource, CloudFormationModel):
    """AWS::RDS::DBInstance: a cluster's member when it names DBClusterIdentifier (moto's
    own model drops it); otherwise moto's model as it is."""

    attribute_names = ("Endpoint.Address", "Endpoint.Port")

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::RDS::DBInstance"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "DBInstanceIdentifier"

    @classmethod
    def create(cls, properties: dict[str, Any], where: Where) -> Any:
        if "DBClusterIdentifier" not in properties:
            return DBInstance.create_from_cloudformation_json(
                where.resource_name, {"Properties": properties}, *where[1:]
            )
        backend = where.rds_backend()
        cluster = backend.clusters[properties["DBClusterIdentifier"].lower()]
        instance = backend.create_db_instance(
            {
                "db_instance_identifier": properties.get(
                    "DBInstanceIdentifier", f"{cluster.db_cluster_identifier}-writer"
                ),
                "db_cluster_identifier": cluster.db_cluster_identifier,
                "db_instance_class": properties["DBInstanceClass"],
                "engine": properties["Engine"],
                "publicly_accessible": properties.get("PubliclyAccessible", False),
            }
        )
        return cls(
            instance.db_instance_identifier,
            {"Endpoint.Address": instance.address, "Endpoint.Port": str(instance.port)},
        )


class SecretResource(_EmulatedResource, CloudFormationModel):
    """AWS::SecretsManager::Secret: its Ref (and Id) is the secret's ARN."""

    attribute_names = ("Id",)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create(cls, properties: dict[str, Any], where: Where) -> "SecretResource":
        backend = where.secretsmanager_backend()
        value = properties.get("SecretString")
        if value is None:
            value = generated_secret_string(backend, properties.get("GenerateSecretString", {}))
        created = backend.create_secret(
            name=properties.get("Name") or where.resource_name,
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
