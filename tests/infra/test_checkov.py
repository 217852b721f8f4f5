"""checkov on template.yaml (issue 15): no finding but those accepted in
checkov_accepted.yaml, each with its reason.

checkov cannot read Fn::ForEach (a parsing error, and then no resource checked at all), so
it reads the template as CloudFormation does after the language extensions
(`load_expanded`): every queue's resources, one by one. It runs from a virtualenv of its
own (`make install`: .venv/checkov, requirements-checkov.txt), since it pins a boto3 the
project's cannot share; offline (--skip-download), as tests must.
"""

import fnmatch
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sqs_tasks.infra.cfn import load_expanded
from stack.template import ROOT, TEMPLATE

ACCEPTED = Path(__file__).with_name("checkov_accepted.yaml")
CHECKOV = Path(os.environ.get("CHECKOV", ROOT / ".venv" / "checkov" / "bin" / "checkov"))
CHECKOV_OPTIONS = ["--skip-download", "--quiet", "--compact", "--output", "json"]


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    resource: str  # logical id
    title: str


@dataclass(frozen=True, slots=True)
class Accepted:
    check: str
    resources: tuple[str, ...]  # logical ids, or patterns with *
    why: str

    def covers(self, finding: Finding) -> bool:
        return finding.check == self.check and any(
            fnmatch.fnmatchcase(finding.resource, pattern) for pattern in self.resources
        )


def accepted() -> list[Accepted]:
    entries = yaml.safe_load(ACCEPTED.read_text())
    return [Accepted(e["check"], tuple(e["resources"]), e["why"]) for e in entries]


@pytest.fixture(scope="module")
def findings(tmp_path_factory) -> list[Finding]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make install`")
    expanded = tmp_path_factory.mktemp("checkov") / "template.json"
    expanded.write_text(json.dumps(load_expanded(TEMPLATE), default=str))
    run = subprocess.run(
        [CHECKOV, "--file", expanded, "--framework", "cloudformation", *CHECKOV_OPTIONS],
        capture_output=True,
        text=True,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "WARNING"},
        timeout=300,
    )
    # checkov exits 1 when a check fails: the report says which, and is what is judged.
    report = json.loads(run.stdout or "{}")
    summary = report.get("summary", {})
    assert summary.get("parsing_errors") == 0 and summary.get("resource_count"), (
        f"checkov read no resource of the template: {summary}\n{run.stderr[-2000:]}"
    )
    return [
        Finding(f["check_id"], f["resource"].rsplit(".", 1)[1], f["check_name"])
        for f in report["results"]["failed_checks"]
    ]


def test_no_finding_but_the_accepted_ones(findings):
    rules = accepted()
    new = [f for f in findings if not any(rule.covers(f) for rule in rules)]
    assert new == [], "fix these in template.yaml, or accept them with a reason in " + str(
        ACCEPTED.relative_to(ROOT)
    )


def test_each_accepted_finding_says_why_and_still_occurs(findings):
    for rule in accepted():
        assert len(rule.why.split()) >= 8, f"{rule.check}: say why it is accepted"
        for pattern in rule.resources:
            matched = [
                f
                for f in findings
                if f.check == rule.check and fnmatch.fnmatchcase(f.resource, pattern)
            ]
            assert matched, f"{rule.check} on {pattern} no longer occurs: remove it"
