"""sqs_tasks.infra.cfn: the AWS::LanguageExtensions transform, as template.yaml uses it,
expanded locally for samtranslator, moto and the checks."""

import logging

import pytest
from cfnlint.decode import decode
from cfnlint.template import Template as LintedTemplate
from cfnlint.template.transforms.transform import Transform

from sqs_tasks.infra.cfn import TemplateError, expand, parse_yaml
from stack.template import TEMPLATE, read_template

LOOP = """
Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
Parameters:
  Names: {Type: CommaDelimitedList, Default: "a,b"}
  Stage: {Type: String, Default: dev}
Mappings:
  Settings:
    b: {Size: 7, dev: 3}
Resources:
  Fn::ForEach::Things:
    - Name
    - !Ref Names
    - Thing${Name}:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: !Sub ${AWS::StackName}-${Name}
          Tag: !Ref Name
          Size: !FindInMap [Settings, !Ref Name, Size, DefaultValue: 1]
          PerStage: !FindInMap [Settings, !Ref Name, !Ref Stage, DefaultValue: 0]
          Other: !GetAtt [!Sub "Thing${Name}", Arn]
          Mine: !Ref {Fn::Sub: "Thing${Name}"}
      Fn::ForEach::Pairs:
        - Other
        - [x, y-z]
        - Pair${Name}&{Other}:
            Type: AWS::SNS::Topic
            Properties:
              TopicName: !Sub ${Name}-${Other}
Outputs:
  Fn::ForEach::Out:
    - Name
    - [a]
    - Out${Name}:
        Value: !Ref {Fn::Sub: "Thing${Name}"}
"""


@pytest.fixture
def loop() -> dict:
    return parse_yaml(LOOP)


def test_a_loop_makes_one_copy_per_item_and_nested_loops_per_pair(loop):
    resources = expand(loop)["Resources"]
    assert list(resources) == [
        "Thinga",
        "Pairax",
        "Pairayz",  # &{} drops what a logical id cannot hold
        "Thingb",
        "Pairbx",
        "Pairbyz",
    ]
    assert resources["Pairbyz"]["Properties"]["TopicName"] == {"Fn::Sub": "b-y-z"}


def test_the_identifier_is_replaced_in_strings_refs_and_built_logical_ids(loop):
    thing = expand(loop)["Resources"]["Thingb"]["Properties"]
    assert thing["QueueName"] == {"Fn::Sub": "${AWS::StackName}-b"}  # other variables stay
    assert thing["Tag"] == "b"
    assert thing["Other"] == {"Fn::GetAtt": ["Thingb", "Arn"]}
    assert thing["Mine"] == {"Ref": "Thingb"}
    assert expand(loop)["Outputs"] == {"Outa": {"Value": {"Ref": "Thinga"}}}


def test_find_in_map_takes_the_mapped_value_or_the_default(loop):
    a, b = (expand(loop)["Resources"][f"Thing{name}"]["Properties"] for name in "ab")
    assert (a["Size"], b["Size"]) == (1, 7)
    assert (a["PerStage"], b["PerStage"]) == (0, 3)  # a parameter's default as a key
    assert expand(loop, {"Stage": "prod"})["Resources"]["Thingb"]["Properties"]["PerStage"] == 0


def test_the_collection_follows_the_parameter_given(loop):
    resources = expand(loop, {"Names": "c"})["Resources"]
    assert [k for k in resources if k.startswith("Thing")] == ["Thingc"]


def test_only_the_serverless_transform_is_left(loop):
    assert expand(loop)["Transform"] == "AWS::Serverless-2016-10-31"
    assert "Transform" not in expand({**loop, "Transform": "AWS::LanguageExtensions"})


def test_a_template_without_the_transform_is_left_alone():
    plain = {"Resources": {"Fn::ForEach::X": ["A", ["a"], {"R${A}": {}}]}}
    assert expand(plain) == plain


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"Fn::ForEach::X": ["A", ["a", "a"], {"R${A}": {}}]}, "'Ra' made by Fn::ForEach::X"),
        ({"Fn::ForEach::X": ["A", ["a"]]}, "takes \\[Identifier, Collection, Fragment\\]"),
        ({"Fn::ForEach::X": ["A", {"Ref": "Nope"}, {"R${A}": {}}]}, "names no parameter"),
        ({"Fn::ForEach::X": ["A", [1], {"R${A}": {}}]}, "list of strings"),
        ({"R": {"P": {"Ref": {"Fn::Sub": "${AppName}"}}}}, "known before deploy"),
        ({"R": {"P": {"Fn::FindInMap": ["M", {"Ref": "R"}, "k", {"DefaultValue": 1}]}}}, "keys"),
    ],
)
def test_what_cloudformation_would_refuse_is_refused(resources, message):
    with pytest.raises(TemplateError, match=message):
        expand({"Transform": "AWS::LanguageExtensions", "Resources": resources})


def test_cfn_lint_expands_template_yaml_to_the_same_resources(caplog):
    """Another implementation of the transform (cfn-lint's, which lints the template)
    makes the same logical ids, with the same settings where it resolves them."""
    caplog.set_level(logging.WARNING, logger="cfnlint")  # it logs the whole template
    decoded, _ = decode(str(TEMPLATE))
    linted = LintedTemplate(str(TEMPLATE), decoded, ["us-east-1"])
    assert Transform().transform(linted) == []
    ours = expand(read_template())["Resources"]
    assert set(linted.template["Resources"]) == set(ours)
    for logical_id, resource in linted.template["Resources"].items():
        properties = ours[logical_id].get("Properties") or {}
        for key, value in (resource.get("Properties") or {}).items():
            # cfn-lint also merges SAM's Globals in, and guesses at lookups that need a
            # parameter's value (any stage's): compare what both take as literal.
            if isinstance(value, (int, str)) and isinstance(properties.get(key), (int, str)):
                assert properties[key] == value, (logical_id, key)
