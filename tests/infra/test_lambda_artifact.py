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


def test_prune_keeps_what_the_allow_list_names_only(tmp_path):
    files = {
        "bin/django-admin": False,  # console scripts cannot run on Lambda
        "django/conf/locale/fr/LC_MESSAGES/django.mo": False,  # not a language we offer
        "django/conf/locale/fr/LC_MESSAGES/django.po": False,
        "django/conf/locale/en/LC_MESSAGES/django.mo": True,
        "django/contrib/gis/__init__.py": False,  # not an installed app
        "django/contrib/admin/static/admin/css/base.css": False,  # served collected
        "django/contrib/admin/templates/admin/base.html": True,
        "django-6.1.3.dist-info/METADATA": True,
        "django-6.1.3.dist-info/RECORD": False,
        "sqs_tasks/tests/test_x.py": False,
        "somepackage/__init__.py": False,  # nobody decided it should ship
    }
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    removed = artifact.prune(tmp_path)
    assert sorted(tree_files(tmp_path)) == sorted(n for n, kept in files.items() if kept)
    assert sorted(removed) == sorted(n for n, kept in files.items() if not kept)
    assert not (tmp_path / "django/contrib/gis").exists(), "emptied folders go too"


def test_sam_build_finds_a_make_target_for_every_function(template, tmp_path):
    """`sam build` runs `make build-<LogicalId>` for BuildMethod makefile (checked dry)."""
    for logical_id, function in resources_of_type(template, "AWS::Serverless::Function").items():
        assert function["Metadata"]["BuildMethod"] == "makefile", logical_id
        process = subprocess.run(
            ["make", "--dry-run", f"build-{logical_id}", f"ARTIFACTS_DIR={tmp_path}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert process.returncode == 0, process.stderr
        assert f'cp -R build/lambda/. "{tmp_path}"' in process.stdout


def fake_distribution(site: Path, name: str, requires: tuple[str, ...] = ()) -> None:
    """A minimal installed distribution: metadata naming its requirements, and a package."""
    package = site / name.replace("-", "_")
    package.mkdir()
    (package / "__init__.py").write_text("")
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    requirements = "".join(f"Requires-Dist: {r}\n" for r in requires)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n{requirements}"
    )
    record = [f"{package.name}/__init__.py,,", f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")


def test_what_only_boto3_needs_is_removed_from_the_artifact(tmp_path):
    """django-ses declares boto3; pip installs it; the runtime has it already."""
    site = tmp_path / "lambda"
    site.mkdir()
    fake_distribution(site, "django-ses", ("boto3>=1.0", "django"))
    fake_distribution(site, "django")
    fake_distribution(site, "boto3", ("botocore",))
    fake_distribution(site, "botocore", ("urllib3",))
    fake_distribution(site, "urllib3")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pinned\ndjango-ses==1.0\ndjango==1.0\n")
    removed = artifact.remove_runtime_provided(site, requirements)
    assert removed == [
        "boto3",
        "boto3-1.0.dist-info",
        "botocore",
        "botocore-1.0.dist-info",
        "urllib3",
        "urllib3-1.0.dist-info",
    ]
    assert sorted(p.name for p in site.iterdir()) == [
        "django",
        "django-1.0.dist-info",
        "django_ses",
        "django_ses-1.0.dist-info",
    ]
