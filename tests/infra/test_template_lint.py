"""cfn-lint passes on template.yaml with no errors and no warnings.

Informational findings (I-rules, such as "set a DeletionPolicy on every stateful resource")
are left out, as cfn-lint itself does by default; deliberate choices there are commented
in the template.
"""

from cfnlint.api import lint_file

from stack.template import TEMPLATE


def test_cfn_lint_finds_no_errors_or_warnings():
    matches = lint_file(TEMPLATE)
    assert [str(match) for match in matches] == []
