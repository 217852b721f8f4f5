"""The suite's own arrangement (tests/conftest.py): which tests share a worker, and which
run again on PostgreSQL."""

from types import SimpleNamespace

from tests.conftest import shared_group, uses_the_database


def test_the_web_packages_readers_share_one_worker():
    assert shared_group("tests/infra/test_zappa.py::test_web_package_is_small") == "artifacts"
    readme = "tests/infra/test_readme_deploy.py::test_zappa_packages_each_stage[dev]"
    assert shared_group(readme) == "artifacts"


def test_the_local_systems_tests_share_one_worker():
    assert shared_group("tests/local/test_browser.py::test_sign_up") == "local-system"
    assert shared_group("tests/local/test_outbox.py::test_x") == "local-system"


def test_an_infrastructure_module_runs_on_one_worker_and_the_rest_anywhere():
    assert shared_group("tests/infra/test_vpc.py::test_a") == "tests/infra/test_vpc.py"
    assert shared_group("tests/infra/test_vpc.py::test_b[x]") == "tests/infra/test_vpc.py"
    assert shared_group("tests/core/test_outbox.py::test_a") is None


def item(fixtures: set[str], marked: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        fixturenames=sorted(fixtures),
        get_closest_marker=lambda name: object() if marked and name == "django_db" else None,
    )


def test_the_postgresql_pass_takes_the_tests_that_use_the_database():
    assert uses_the_database(item({"db", "monkeypatch"}))
    assert uses_the_database(item({"transactional_db", "aws"}))
    assert uses_the_database(item({"monkeypatch"}, marked=True))
    # Every test requests the blocker (pytest-django's autouse fixtures): not a use.
    assert not uses_the_database(item({"django_db_blocker", "settings", "monkeypatch"}))
