"""Issue 6 in a real browser: headless Chromium (Debian's, driven by Playwright) against the
local system, as a user would go: sign up, upload a CSV straight to S3, watch the report's
progress bar reach done, open the report, and find the email in the local outbox. Then
(issue 19) restart the system as a user would, and find the logins kept and the report's
files, which the emulator does not keep, said to be gone rather than offered. And (issue
16) upload several files at once, watch the one progress bar of the workflow that builds
their report reach done, and read the numbers of all their rows in it.

Where Chromium or Playwright is missing the test is skipped, saying which and how to get
it; .ci/run installs Chromium so that CI always runs it.
"""

import csv
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from email import policy
from email.parser import BytesParser
from itertools import pairwise
from pathlib import Path

import pytest

from tests.local.test_local_system import task_state

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError:  # requirements-dev.txt pins it; a bare environment may lack it
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
# As root (CI), in a closed network: no sandbox, no GPU, and no calls home at start-up,
# which this machine's network refuses (slowly). Playwright adds --headless and a fresh
# --user-data-dir of its own for each launch.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"browser test skipped: no Chromium at {CHROMIUM} "
        "(apt-get install chromium, as .ci/run does)",
    ),
    pytest.mark.skipif(
        sync_playwright is None,
        reason="browser test skipped: Playwright is not installed "
        "(.venv/bin/pip install -r requirements-dev.txt)",
    ),
]

# Enough rows that building the report takes seconds, so the page can see it run.
ROWS = 500_000
REGIONS = ("north", "south", "east", "west")
BUILD_TIMEOUT_MS = 120_000
STATE_ORDER = {"READY": 0, "RUNNING": 1, "SUCCESSFUL": 2}

# Every state the report's progress element shows, kept in sessionStorage so that it
# outlives the reload progress.js does when the task finishes: "page" for what the
# server rendered, "live" for each poll's answer, rendered in place without a reload.
RECORD_PROGRESS = """
(() => {
  const KEY = "progress-log";
  function record(job, source) {
    const bar = job.querySelector('[data-field="bar"]');
    const log = JSON.parse(sessionStorage.getItem(KEY) || "[]");
    log.push({source: source, state: job.dataset.state,
              percent: Number(bar.getAttribute("aria-valuenow")), at: Date.now()});
    sessionStorage.setItem(KEY, JSON.stringify(log));
  }
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-job]").forEach((job) => {
      record(job, "page");
      new MutationObserver(() => record(job, "live")).observe(job, {
        subtree: true, attributes: true, attributeFilter: ["data-state", "aria-valuenow"],
      });
    });
  });
})();
"""


@pytest.fixture(scope="module")
def browser() -> Iterator["Browser"]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def write_sales(path: Path, rows: int) -> dict[str, dict[str, Decimal]]:
    """A sales CSV; returns what the report must say per region (rows, units, amount)."""
    expected = {region: {"rows": 0, "units": 0, "amount": Decimal(0)} for region in REGIONS}
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["region", "product", "units", "amount"])
        for number in range(rows):
            region, units, amount = REGIONS[number % 4], number % 9 + 1, number % 100 + 0.25
            writer.writerow([region, f"p{number % 7}", units, f"{amount:.2f}"])
            expected[region]["rows"] += 1
            expected[region]["units"] += units
            expected[region]["amount"] += Decimal(f"{amount:.2f}")
    return expected


def admin_password(system) -> str:
    """The admin login the local system prints at each start, as `make run` does."""
    return re.findall(r"admin user: admin\s+password: (\S+)", system.output())[-1]


def email_to(outbox: Path, address: str, subject: str, timeout: float = 60):
    """The .eml the local system wrote for `address` with `subject`: SES accepted it,
    nothing delivered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for file in sorted(outbox.glob("*.eml")):
            email = BytesParser(policy=policy.default).parsebytes(file.read_bytes())
            if email["To"] == address and email["Subject"] == subject:
                return file, email
        time.sleep(0.5)
    raise AssertionError(f"no email to {address} about {subject!r} in {outbox}")


def sign_up(page: "Page", username: str, address: str, password: str) -> None:
    page.goto("/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_email", address)
    page.fill("#id_password1", password)
    page.fill("#id_password2", password)
    page.click("#signup-submit")
    expect(page.locator("#upload-form")).to_be_visible()
    expect(page.locator("#logout")).to_contain_text(username)


def wait_for_report(page: "Page") -> None:
    """Until the report's page shows it built (progress.js reloads it when the build has
    finished), or its build failed, which ends the wait at once; then that it was built."""
    page.wait_for_selector(
        '#report[data-report-ready="true"], [data-job][data-state="FAILED"]',
        timeout=BUILD_TIMEOUT_MS,
    )
    job = page.locator("[data-job]")
    assert job.get_attribute("data-state") != "FAILED", job.inner_text()
    expect(page.locator("#report")).to_have_attribute("data-report-ready", "true")
    expect(job).to_have_attribute("data-state", "SUCCESSFUL")
    # In words that read one way, with no progress message left over from the build.
    expect(job.locator('[data-field="status"]')).to_have_text("done")
    expect(job.locator('[data-field="message"]')).to_have_text("")
    expect(job.locator('[data-field="bar"]')).to_have_attribute("aria-valuenow", "100")


def new_user(browser: "Browser", system) -> "BrowserContext":
    """A browser context for one user, recording the progress bars' states."""
    user = browser.new_context(base_url=system.url, viewport={"width": 1100, "height": 800})
    user.set_default_timeout(30_000)
    user.add_init_script(RECORD_PROGRESS)
    return user


def progress_log(page: "Page") -> list[dict]:
    return page.evaluate("JSON.parse(sessionStorage.getItem('progress-log') || '[]')")


@contextmanager
def explained(page: "Page", system, tmp_path: Path) -> Iterator[None]:
    """On failure, keep a screenshot of the page and show the local system's log."""
    try:
        yield
    except Exception as error:
        page.screenshot(path=tmp_path / "failure.png", full_page=True)
        raise AssertionError(
            f"{error}\n(page {page.url}, screenshot {tmp_path / 'failure.png'})\n"
            f"--- local system log ---\n{system.output()[-4000:]}"
        ) from error


def check_bar(log: list[dict]) -> None:
    """The bar started unfinished, moved to done in place, never failed or went back."""
    first, live = log[0], [entry for entry in log if entry["source"] == "live"]
    assert first["source"] == "page" and first["state"] in {"READY", "RUNNING"}, log
    assert first["percent"] < 100, log
    assert live and (live[-1]["state"], live[-1]["percent"]) == ("SUCCESSFUL", 100), log
    assert (log[-1]["source"], log[-1]["state"]) == ("page", "SUCCESSFUL"), log  # reloaded
    assert all(entry["state"] in STATE_ORDER for entry in log), log  # never FAILED
    states = [STATE_ORDER[entry["state"]] for entry in log]
    assert states == sorted(states), log
    percents = [entry["percent"] for entry in log]
    assert percents == sorted(percents), log


def check_progress(log: list[dict], system, task_id: str) -> bool:
    """check_bar, and the bar showed the task running whenever it must have: a poll sent
    after the task started and answered before it finished read it RUNNING. progress.js
    sends each poll but the first a second after rendering the one before, so a poll
    rendered live after another rendered live since the start, and before the finish, is
    one. Timing decides whether there was one, so this part asserts only what the clocks
    prove (the browser's and the worker's are this machine's). Returns whether the page
    showed it running."""
    check_bar(log)
    result = task_state(system, task_id)["result"]
    started, finished = (
        datetime.fromisoformat(result[name]).timestamp() * 1000
        for name in ("started_at", "finished_at")
    )
    for before, entry in pairwise(log):
        polled = before["source"] == entry["source"] == "live"
        if polled and before["at"] >= started and entry["at"] < finished:
            assert entry["state"] == "RUNNING", f"polled while running, yet: {log}"
    return any(entry["state"] == "RUNNING" for entry in log)


def test_sign_up_upload_watch_the_report_build_open_it_and_see_the_email(
    browser, local_system, local_systems, tmp_path
):
    started = time.monotonic()
    username = f"browser-{secrets.token_hex(4)}"
    address = f"{username}@example.com"
    password = f"Pass-{secrets.token_urlsafe(12)}"
    sales = tmp_path / "sales.csv"
    expected = write_sales(sales, ROWS)

    user = new_user(browser, local_system)
    page = user.new_page()
    # Chromium reports each Content-Security-Policy violation on the console: the pages
    # must satisfy their policy (no inline script or style), so none may appear.
    violations: list[str] = []

    def watch_policy(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", watch_policy)
    with explained(page, local_system, tmp_path):
        # 1. Sign up: the account is created and signed in, on the reports page.
        sign_up(page, username, address, password)

        # 1b. Confirm the address: reports are emailed only to confirmed ones. The link
        # opens a page whose button confirms (a mail scanner's visit confirms nothing).
        _, welcome = email_to(local_system.root / "outbox", address, "Confirm your email address")
        link = re.search(
            r"http://\S+/accounts/verify/\S+/", welcome.get_body(("plain",)).get_content()
        )
        page.goto(link[0])
        page.click("#verify-submit")
        expect(page.locator("#messages")).to_contain_text(f"{address} is confirmed")

        # 2. Upload: an empty file is refused on the page (S3 would answer with XML);
        expect(page.locator("#landing")).to_have_count(0)
        page.set_input_files(
            "#upload-file", files=[{"name": "empty.csv", "mimeType": "text/csv", "buffer": b""}]
        )
        page.click("#upload-submit")
        expect(page.locator("#upload-error")).to_have_text(re.compile("That file is empty"))
        # a real one is posted to S3 itself (the emulator), and S3 sends the browser back
        # to the app, which shows the file's first rows.
        page.set_input_files("#upload-file", sales)
        with page.expect_request(
            lambda r: r.method == "POST" and r.url.startswith(local_system.endpoint)
        ):
            page.click("#upload-submit")
        page.wait_for_url(re.compile(r"/uploads/\d+/$"))
        expect(page.locator("#upload-name")).to_have_text("sales.csv")
        expect(page.locator("#upload-preview thead th")).to_have_text(
            ["region", "product", "units", "amount"]
        )

        # 3. Build the report, grouped by region, and watch the bar reach done.
        page.check("#group-by input[value=region]")
        page.click("#build-report")
        page.wait_for_url(re.compile(r"/reports/\d+/$"))
        task_id = page.locator("[data-job]").get_attribute("id").removeprefix("job-")
        wait_for_report(page)
        expect(page.locator("#summary-rows")).to_have_text(str(ROWS))
        built = time.monotonic()
        seen_running = check_progress(progress_log(page), local_system, task_id)

        # 4. Open the report: a new tab, served by S3 (through a presigned link).
        with user.expect_page() as opened:
            page.click("#open-report")
        document = opened.value
        document.wait_for_load_state()
        assert document.url.startswith(local_system.endpoint), document.url
        expect(document.locator("#report-document h1")).to_have_text("Report on sales.csv")
        expect(document.locator("#total-rows")).to_have_text(str(ROWS))
        units = sum(region["units"] for region in expected.values())
        expect(document.locator('#totals [data-total="units"]')).to_have_text(str(units))
        groups = document.locator("#groups tbody tr")
        expect(groups).to_have_count(len(REGIONS))
        north = groups.filter(has_text="north").locator("td")
        assert north.nth(1).inner_text() == str(expected["north"]["rows"])
        assert Decimal(north.nth(3).inner_text()) == expected["north"]["amount"]
        document.screenshot(path=tmp_path / "report-document.png", full_page=True)

    # 5. The email: written to the local outbox, and shown to staff on /outbox/.
    staff = browser.new_context(base_url=local_system.url, viewport={"width": 1100, "height": 800})
    staff.set_default_timeout(30_000)
    outbox = staff.new_page()
    outbox.on("console", watch_policy)
    with explained(outbox, local_system, tmp_path):
        file, email = email_to(local_system.root / "outbox", address, "Your report is ready")
        assert 'id="email-download-link"' in email.get_body(("html",)).get_content()
        outbox.goto("/outbox/")
        outbox.fill("#id_username", "admin")  # the login page first, then back here
        outbox.fill("#id_password", admin_password(local_system))
        outbox.click("#login-submit")
        row = outbox.locator(f'#outbox tr[data-to="{address}"]', has_text="report is ready")
        expect(row).to_have_count(1)
        outbox.screenshot(path=tmp_path / "outbox.png", full_page=True)
        row.get_by_role("link").click()
        outbox.wait_for_url(f"**/outbox/{file.name}/")
        expect(outbox.locator("#email-to")).to_have_text(address)
        link = outbox.frame_locator("#email-html").locator("#email-download-link")
        expect(link).to_have_text("Download the CSV")
        emailed_link = link.get_attribute("href")  # the app's, which redirects to S3
        download = outbox.request.get(emailed_link)  # staff may read any report
        assert download.ok, download.status
        rows = list(csv.reader(download.text().splitlines()))
        assert rows[0] == ["region", "rows", "sum of units", "sum of amount"]
        assert [r[1] for r in rows if r[0] == "north"] == [str(expected["north"]["rows"])]

    assert violations == [], violations
    # Every page links its icon: the browser never asked for a /favicon.ico that 404s.
    assert "Not Found: /favicon.ico" not in local_system.output()

    # The pages as a user sees them, for a person to look at (tmp_path, kept by pytest).
    page.screenshot(path=tmp_path / "report-page.png", full_page=True)
    outbox.screenshot(path=tmp_path / "outbox-email.png", full_page=True)
    report_url = page.url
    page.goto("/")
    expect(page.locator('#report-list [data-state="SUCCESSFUL"]')).to_have_text("done")

    # Staff see the task overview, which the page caches (in the database) for the others.
    outbox.goto("/tasks/")
    before = overview_computed_at(outbox)

    # 6. Ctrl-C and `make run` again: the database, the secret key, the admin password
    # and the outbox are kept; the emulated S3 starts empty.
    password = admin_password(local_system)
    restarting = datetime.now(UTC)
    restarted = local_systems(restart=True)
    assert admin_password(restarted) == password
    with explained(page, restarted, tmp_path):
        page.goto(report_url)  # still logged in
        expect(page.locator("#report-gone")).to_have_text(
            "This report's files are no longer stored."
        )
        expect(page.locator("#open-report")).to_have_count(0)
        expect(page.locator("#reupload-report")).to_be_visible()  # the upload went too
        page.screenshot(path=tmp_path / "report-gone.png", full_page=True)
    with explained(outbox, restarted, tmp_path):
        outbox.goto("/outbox/")  # staff are still logged in too
        kept = outbox.locator(f'#outbox tr[data-to="{address}"]', has_text="report is ready")
        expect(kept).to_have_count(1)
        # The emailed link now says so on the report's page, instead of S3's XML.
        outbox.goto(emailed_link)
        expect(outbox).to_have_url(report_url)
        expect(outbox.locator("#messages")).to_contain_text("no longer stored")
        # The overview counts the new emulator's tasks, not the previous run's: the
        # cached one (kept with the database) was replaced at the start.
        outbox.goto("/tasks/")
        after = overview_computed_at(outbox)
        assert after >= restarting > before, (before, restarting, after)
    print(
        f"browser test: report built {built - started:.1f}s (seen running: {seen_running}), "
        f"all done {time.monotonic() - started:.1f}s; screenshots in {tmp_path}"
    )
    user.close()
    staff.close()


def overview_computed_at(page: "Page") -> datetime:
    """When the staff overview on the task list was computed (its data-computed-at)."""
    return datetime.fromisoformat(page.locator("#task-overview").get_attribute("data-computed-at"))


# Rows per file: a few seconds of reading each, the files read in parallel; each its own
# size, so that numbers from one file counted twice, or one left out, cannot add up.
SEVERAL = {"jan": 30_000, "feb": 40_000, "mar": 50_001}


def test_upload_several_files_at_once_and_watch_one_bar_build_their_report(
    browser, local_system, tmp_path
):
    """Issue 16: one report over several files, built by a workflow (a step per file, in
    parallel, then the merge, the rendering and the email), followed by one progress bar,
    with the numbers of all the files' rows."""
    username = f"several-{secrets.token_hex(4)}"
    files = [tmp_path / f"{month}.csv" for month in SEVERAL]
    expected = {region: {"rows": 0, "units": 0, "amount": Decimal(0)} for region in REGIONS}
    for file, rows in zip(files, SEVERAL.values(), strict=True):
        for region, numbers in write_sales(file, rows).items():
            for name, value in numbers.items():
                expected[region][name] += value
    user = new_user(browser, local_system)
    page = user.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    with explained(page, local_system, tmp_path):
        sign_up(page, username, f"{username}@example.com", f"Pass-{secrets.token_urlsafe(12)}")

        # An empty file among them is refused on the page, before anything is sent.
        chosen = [
            {"name": name, "mimeType": "text/csv", "buffer": body}
            for name, body in (("jan.csv", files[0].read_bytes()), ("empty.csv", b""))
        ]
        page.set_input_files("#upload-file", files=chosen)
        page.click("#upload-submit")
        expect(page.locator("#upload-error")).to_have_text(
            re.compile("^empty.csv: That file is empty")
        )
        # Three at once: the page's script posts each to S3 (the emulator), then the app
        # checks what S3 stored and offers the columns the files share.
        sent: list[str] = []
        page.on(
            "request",
            lambda request: (
                sent.append(request.url)
                if request.method == "POST" and request.url.startswith(local_system.endpoint)
                else None
            ),
        )
        page.set_input_files("#upload-file", files)
        page.click("#upload-submit")
        page.wait_for_url(re.compile(r"/reports/new/\?upload="))
        assert len(sent) == len(files), sent
        expect(page.locator("#combine-files tbody td:first-child")).to_have_text(
            [f"{month}.csv" for month in SEVERAL]
        )

        # Build it grouped by region, and watch the one bar reach done.
        page.check("#group-by input[value=region]")
        page.click("#build-report")
        page.wait_for_url(re.compile(r"/reports/\d+/$"))
        expect(page.locator("h1")).to_have_text("Report on jan.csv, feb.csv and mar.csv")
        expect(page.locator("[data-job]")).to_have_count(1)  # one bar for the whole workflow
        wait_for_report(page)
        log = progress_log(page)
        check_bar(log)
        rows = sum(SEVERAL.values())
        expect(page.locator("#summary-rows")).to_have_text(str(rows))
        units = sum(region["units"] for region in expected.values())
        expect(page.locator('#report-summary [data-total="units"]')).to_have_text(str(units))

        # The report itself: the numbers of all the files' rows, region by region.
        with user.expect_page() as opened:
            page.click("#open-report")
        document = opened.value
        document.wait_for_load_state()
        expect(document.locator("#total-rows")).to_have_text(str(rows))
        groups = document.locator("#groups tbody tr")
        expect(groups).to_have_count(len(REGIONS))
        for region in REGIONS:
            cells = groups.filter(has_text=region).locator("td")
            assert cells.nth(1).inner_text() == str(expected[region]["rows"]), region
            assert Decimal(cells.nth(3).inner_text()) == expected[region]["amount"], region
        document.screenshot(path=tmp_path / "combined-report.png", full_page=True)
        page.screenshot(path=tmp_path / "combined-report-page.png", full_page=True)
    assert violations == [], violations
    shown = sorted({entry["percent"] for entry in log})
    print(f"browser test (several files): the bar showed {shown} percent; shots in {tmp_path}")
    user.close()
