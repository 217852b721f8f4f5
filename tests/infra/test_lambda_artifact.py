"""The workers' artifact (stack.artifact) and the Makefile targets `sam build` runs."""

import subprocess
import sys
from pathlib import Path

from stack import artifact
from stack.template import ROOT, resources_of_type

from .bytecode import bytecode_problems


def tree_files(root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()]


def test_artifact_holds_the_runtime_sources_with_bytecode_lambda_can_use(tmp_path):
    dest = tmp_path / "lambda"
    artifact.build(dest, with_requirements=False)
    files = tree_files(dest)
    assert {name.split("/")[0] for name in files} == set(artifact.SOURCES) | {"__pycache__"}
    assert not [name for name in files if "/tests/" in name]
    assert "functions/worker.py" in files
    assert bytecode_problems(files, lambda name: (dest / name).read_bytes()) == []


def test_bytecode_check_catches_timestamp_pyc(tmp_path):
    """The check above is not vacuous: pip's and Zappa's usual bytecode fails it."""
    (tmp_path / "module.py").write_text("VALUE = 1\n")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tmp_path)], check=True)
    problems = bytecode_problems(tree_files(tmp_path), lambda n: (tmp_path / n).read_bytes())
    assert problems == [
        "__pycache__/module.cpython-312.pyc: checked against the source's timestamp or hash"
    ]


def test_zip_tree_is_reproducible(tmp_path):
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a.py").write_text("A = 1\n")
    artifact.zip_tree(tmp_path / "tree", tmp_path / "one.zip")
    artifact.zip_tree(tmp_path / "tree", tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()


def test_prune_drops_scripts_and_translation_sources(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "django-admin").write_text("")
    locale = tmp_path / "django" / "conf" / "locale" / "fr" / "LC_MESSAGES"
    locale.mkdir(parents=True)
    (locale / "django.po").write_text("")
    (locale / "django.mo").write_text("")
    artifact.prune(tmp_path)
    assert tree_files(tmp_path) == ["django/conf/locale/fr/LC_MESSAGES/django.mo"]


def test_sam_build_finds_a_make_target_for_every_function(template, tmp_path):
    """`sam build` runs `make build-<LogicalId>` for BuildMethod makefile (checked dry)."""
    for logical_id, function in resources_of_type(template, "AWS::Serverless::Function").items():
        assert function["Metadata"] == {"BuildMethod": "makefile"}, logical_id
        process = subprocess.run(
            ["make", "--dry-run", f"build-{logical_id}", f"ARTIFACTS_DIR={tmp_path}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert process.returncode == 0, process.stderr
        assert f'cp -R build/lambda/. "{tmp_path}"' in process.stdout
