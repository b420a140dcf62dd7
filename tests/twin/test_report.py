"""Reports as a person sees them: opened in headless Chromium, charts drawn, no console error."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.twin.test_cli import aidc, short_scenario

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: Chromium as the machine allows it: no sandbox as root, and none of its background
#: connections (this machine's network refuses them, and a report needs none)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two 8-day runs (two weeks to page through) of the default scenario, two strategies."""
    tmp = tmp_path_factory.mktemp("report")
    scenario = short_scenario(tmp, days=8)
    out = {}
    for strategy in ("greedy", "no_control"):
        r = aidc("run", scenario, "--strategy", strategy, "--out", tmp / strategy)
        assert r.returncode == 0, r.stderr
        out[strategy] = tmp / strategy
    return out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), (
        f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, path: Path, shot: Path):
    """Open a page from its file, wait until every chart is drawn, save a screenshot; return
    the page and every console error and uncaught exception it raised."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri())
    page.wait_for_function("window.reportReady === true", timeout=60_000)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000  # a drawn page, not a blank one
    # self-contained: the page asks for nothing but itself
    assert [u for u in requests if not u.startswith("file://")] == []
    return page, errors


def test_a_run_report_draws_its_charts_pages_through_weeks_without_errors(runs, browser,
                                                                          tmp_path):
    page, errors = open_page(browser, runs["greedy"] / "report.html", tmp_path / "report.png")
    # monthly levels, mismatch gap and the dispatch stack are drawn as plotly SVG
    assert page.locator(".js-plotly-plot").count() == 3
    assert page.locator("#fig-dispatch .main-svg").count() >= 1
    # the dispatch traces: 7 bus flows, IT, facility, green and grey content
    assert page.evaluate("document.getElementById('fig-dispatch').data.length") == 11
    assert page.locator("#week-label").text_content() == "1 of 2"
    first_x = page.evaluate("document.getElementById('fig-dispatch').data[0].x[0]")
    page.click("#next")
    page.wait_for_function("document.getElementById('week-label').textContent === '2 of 2'")
    later_x = page.evaluate("document.getElementById('fig-dispatch').data[0].x[0]")
    assert later_x - first_x == 7 * 24 * 3600 * 1000  # one week on [ms]
    # the headline badges: time-slice and aggregate, with the run's values
    badges = page.locator("#headline svg")
    assert badges.count() == 2
    text = page.locator("#headline").inner_text()
    assert re.search(r"GTI 0\.\d{3}", text) and "Level" in text
    assert "name: western_hub" in page.locator("#scenario pre").inner_text()
    assert errors == []
    page.close()


def test_two_runs_side_by_side(runs, browser, tmp_path):
    target = tmp_path / "compare.html"
    r = aidc("report", runs["greedy"], runs["no_control"], "--out", target)
    assert r.returncode == 0, r.stderr
    page, errors = open_page(browser, target, tmp_path / "compare.png")
    assert page.locator("#kpis th").all_inner_texts()[1:] == ["greedy", "no_control"]
    assert page.locator("#badges svg").count() == 4
    assert page.locator(".js-plotly-plot").count() == 1
    assert errors == []
    page.close()


def test_report_of_a_folder_that_is_not_a_run_exits_2(tmp_path):
    r = aidc("report", tmp_path, "--out", tmp_path / "x.html")
    assert r.returncode == 2 and "not a run folder" in r.stderr
    assert not (tmp_path / "x.html").exists()


def test_a_fleet_report_shows_sites_regions_and_moved_work(browser, tmp_path):
    from tests.conftest import SCENARIOS
    out = tmp_path / "fleet"
    r = aidc("run", SCENARIOS / "east_west.yaml", "--out", out)
    assert r.returncode == 0, r.stderr
    page, errors = open_page(browser, out / "report.html", tmp_path / "fleet.png")
    # monthly levels, mismatch gap, work moved per day and the dispatch stack
    assert page.locator(".js-plotly-plot").count() == 4
    sites = page.locator("#sites tr").all_inner_texts()
    assert [row.split("\t")[0] for row in sites[1:]] == ["east", "west"]
    regions = page.locator("#fleet table").first.locator("tr").all_inner_texts()
    assert [row.split("\t")[0] for row in regions[1:]] == ["east_chat", "east_api", "west_users"]
    # greedy sends most API requests west, and moves the training run
    moved = page.evaluate("document.getElementById('fig-moved').data.map(t => t.name)")
    assert "requests east_api → west" in moved and "training at west" in moved
    assert "east-train-llama70b-cpt" in page.locator("#fleet").inner_text()
    assert errors == []
    page.close()


def test_the_report_of_a_run_draws_the_storage_content_the_run_scored(runs):
    # the run writes its report from its own scores (no second scoring); the page a folder
    # gives (`aidc-twin report`, which scores the meters again) holds the same series
    import json

    from twin.report import dispatch_series
    from twin.results import read_run

    run = read_run(runs["greedy"])
    page = (runs["greedy"] / "report.html").read_text()
    again = dispatch_series(run["meters"], run["summary"])
    for key in ("soc_green_mwh", "soc_grey_mwh", "import_mw"):
        drawn = re.search(rf'"{key}":(\[[^\]]*\])', page)
        assert drawn is not None and json.loads(drawn.group(1)) == again[key]
    assert max(again["soc_green_mwh"]) > 0.0  # a greedy week stores green
