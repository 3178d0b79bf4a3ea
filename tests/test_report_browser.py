"""The report in a real browser: headless Chromium opens report.html from disk, with no network.

It finds the KPI table and every figure (each image decoded, with a size), the console shows no
error, and a full-page screenshot is saved under the test's temporary folder (``report.png``).

Chromium comes from Debian's packages ``chromium`` and ``chromium-driver``, which ``make test`` installs
with apt-get when they are missing and it runs as root (as in CI). Where they are missing the test is
skipped, except under CI, where a missing browser fails it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from routing_sim import logs
from routing_sim.report import write_report
from tests.reporting import need, run, small

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars")
FIGURES = ("compliance", "time_to_targets", "backlog", "time_to_target", "utilisation", "staffing")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> tuple[Path, Path]:
    """Chromium and its driver on PATH, from Debian's packages (``make test`` installs them as root)."""
    found = {name: shutil.which(name) for name in ("chromium", "chromedriver")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        _unavailable(f"{' and '.join(missing)} not on PATH: install Debian's chromium and chromium-driver "
                     "(make test does, as root)")
    return Path(found["chromium"]), Path(found["chromedriver"])


@pytest.fixture
def browser(chromium, tmp_path: Path, monkeypatch):
    webdriver = need("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = str(binary)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    monkeypatch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager look for a driver online
    driver = webdriver.Chrome(options=options, service=Service(str(driver_path)))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_chromium_shows_the_kpi_table_and_every_figure_without_console_errors(browser, tmp_path: Path):
    logs.configure("warning")
    folder = run(small(tmp_path, days=2), tmp_path / "results")
    report = write_report(folder)
    browser.get(report.resolve().as_uri())
    from selenium.webdriver.common.by import By

    table = browser.find_element(By.ID, "kpi-table")
    assert table.is_displayed() and len(table.find_elements(By.CSS_SELECTOR, "tbody tr")) >= 5
    for name in FIGURES:
        image = browser.find_element(By.CSS_SELECTOR, f"#fig-{name} img")
        width = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image)
        assert width and width > 300, name
        assert image.size["width"] > 300, name
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "section > h2, section > details > summary > h2")]
    assert "STRESS-DES checklist" in headings and "Assumptions" in headings
    stress = browser.find_element(By.ID, "stress-table")  # folded under its heading until the reader opens it
    assert not stress.is_displayed()
    browser.find_element(By.CSS_SELECTOR, "#stress > details > summary").click()
    assert stress.is_displayed()
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 100, 16000))
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 50_000


def test_the_first_screen_at_1280_px_answers_with_verdicts(browser, tmp_path: Path):
    """The answers, with their verdicts in words, are on the first screen (1280 x 900) and the page
    needs no horizontal scrolling at 1280 px."""
    logs.configure("warning")
    folder = run(small(tmp_path, days=2, targets=True), tmp_path / "results")
    browser.get(write_report(folder).resolve().as_uri())
    from selenium.webdriver.common.by import By

    verdicts = browser.find_elements(By.CSS_SELECTOR, "#answers .verdict")
    assert {v.text for v in verdicts} == {"missed", "met"}
    bottom = browser.execute_script("return arguments[0].getBoundingClientRect().bottom", verdicts[-1])
    assert bottom < 900, "the answers are below the first screen"
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 1280
    shot = tmp_path / "first-screen.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 20_000


def test_an_experiment_report_with_six_variants_fits_1280_px(browser, tmp_path: Path):
    """Six variants: the answers keep a column each, the headline KPIs a row each under every KPI,
    and the page still needs no horizontal scrolling at 1280 px; the verdicts read in words."""
    from tests.test_report import reported_experiment

    logs.configure("warning")
    body = "seed: 5\nsweep: {pools.clerks.headcount: [1, 2, 3, 4, 5, 6]}   # assumption: the levels\nreplications: 2\n"
    folder, _ = reported_experiment(tmp_path, "six", body, targets=True)
    browser.get((folder / "report.html").resolve().as_uri())
    from selenium.webdriver.common.by import By

    headers = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#answers-table th")]
    assert len(headers) == 2 + 6, headers
    verdicts = {v.text for v in browser.find_elements(By.CSS_SELECTOR, "#answers-table .verdict")}
    assert verdicts <= {"met", "missed", "uncertain", "moved"} and "missed" in verdicts
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 1280
    table = browser.find_element(By.ID, "answers-table")
    assert browser.execute_script("return arguments[0].getBoundingClientRect().right", table) <= 1280
    shot = tmp_path / "experiment-first-screen.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
