"""The docs site in headless Chromium: grouped navigation, the capabilities, the API reference, no missing page.

The site is built once (``mkdocs build --strict``, so a warning fails here too) into a temporary
directory and served on loopback by ``http.server``; the browser reads it as a user would.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from selenium.webdriver.common.by import By

from tests.browser.browser_support import Ui, new_shots_dir, retry, start_chromium
from tests.browser.conftest import SHOTS_ENV

REPO = Path(__file__).resolve().parents[2]
NAV_GROUPS = ["Getting started", "Guides", "Reference", "Project"]
CREATE_CONTACT = "airflow_provider_apollo.operators.contacts.ApolloCreateContactOperator"


def nav_pages() -> list[tuple[str | None, str]]:
    """Every page in mkdocs.yml's nav as ``(group, file)``; the group is None for a page outside any group."""
    pages: list[tuple[str | None, str]] = []
    for item in yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]:
        for title, value in item.items():
            if isinstance(value, list):
                pages.extend((title, file) for entry in value for file in entry.values())
            else:
                pages.append((None, value))
    return pages


def page_path(file: str) -> str:
    """Where MkDocs serves a page (directory URLs): ``export.md`` at ``/export/``, ``index.md`` at ``/``."""
    stem = file.removesuffix(".md")
    return "/" if stem == "index" else "/" + stem.removesuffix("index").rstrip("/") + "/"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def docs_site() -> Iterator[Path]:
    site = Path(tempfile.mkdtemp(prefix="apollo-docs-site-"))
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        # Not --quiet: it hides the warnings that --strict would fail on.
        assert built.returncode == 0, f"mkdocs build --strict failed:\n{built.stderr[-5000:]}"
        yield site
    finally:
        shutil.rmtree(site, ignore_errors=True)


@pytest.fixture(scope="module")
def site_url(docs_site: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(docs_site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser_session(site_url: str) -> Iterator[Ui]:
    """The browser on the docs site (overrides conftest's, which opens Airflow's UI; ``ui`` uses this one)."""
    profile = Path(tempfile.mkdtemp(prefix="apollo-docs-profile-"))
    browser = start_chromium(profile)
    keep = os.environ.get(SHOTS_ENV)
    ui = Ui(browser, site_url, new_shots_dir(keep))
    try:
        yield ui
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
        if not ui.failed and not keep:
            shutil.rmtree(ui.shots, ignore_errors=True)


def top_navigation(ui: Ui) -> list[str]:
    items = ui.browser.find_elements(By.CSS_SELECTOR, "ul.navbar-nav:not(.ms-md-auto) > li")
    return [item.find_element(By.CSS_SELECTOR, ":scope > a").text.strip() for item in items]


def test_the_home_page_groups_the_navigation_and_lists_the_capabilities(ui: Ui) -> None:
    ui.open("/")
    ui.find(By.CSS_SELECTOR, "h1")
    # Four groups in the bar instead of one link a page.
    assert top_navigation(ui) == NAV_GROUPS
    assert [group for group, _ in nav_pages() if group is None] == [], "every page is in a group"
    ui.shot("home")

    table = ui.find(By.XPATH, "//h2[@id='what-it-does']/following-sibling::table[1]")
    capabilities = [
        cell.text for cell in table.find_elements(By.CSS_SELECTOR, "tbody tr td:first-child strong")
    ]
    for capability in (
        "Create and update contacts",
        "Run outreach by names",
        "Custom fields by label and owners by email",
        "Wait for contacts to reach a stage, or for replies to a sequence",
        "Export a search to S3",
        "Upsert warehouse records into Apollo",
        "Long jobs wait out hourly and daily quotas",
        "Start a DAG when contacts enter a stage",
        "Test your DAGs without Apollo",
    ):
        assert capability in capabilities, f"{capability!r} missing from the home page's capabilities"
    # A group's pages open from its menu.
    ui.click(By.XPATH, "//a[contains(@class, 'dropdown-toggle') and normalize-space()='Getting started']")
    support = ui.find(
        By.XPATH, "//a[contains(@class, 'dropdown-item') and normalize-space()='Support and versions']"
    )
    assert retry(support.is_displayed, what="the Getting started menu to open")


def test_the_reference_menu_leads_to_the_operators_arguments_from_the_docstrings(ui: Ui) -> None:
    ui.open("/")
    ui.click(By.XPATH, "//a[contains(@class, 'dropdown-toggle') and normalize-space()='Reference']")
    ui.click(
        By.XPATH,
        "//a[normalize-space()='Reference']/following-sibling::ul//a[normalize-space()='Operators']",
    )
    retry(lambda: ui.browser.current_url.endswith("/reference/operators/"), what="the operators reference")
    heading = ui.find(By.ID, CREATE_CONTACT)
    assert "ApolloCreateContactOperator" in heading.text
    for argument, words in (("run_dedupe", "bool"), ("contacts", "list")):
        item = ui.find(By.XPATH, f"//*[@id='{CREATE_CONTACT}({argument})']/ancestor::li[1]")
        ui.browser.execute_script("arguments[0].scrollIntoView()", item)
        assert item.is_displayed()
        assert item.text.startswith(argument) and words in item.text, item.text
    signature = heading.find_element(By.XPATH, "following::div[contains(@class, 'doc-signature')][1]")
    assert "run_dedupe: bool = True" in signature.text
    ui.shot("reference-operators")


def test_every_page_in_the_navigation_opens(ui: Ui, site_url: str) -> None:
    ui.open("/")
    links = ui.browser.find_elements(By.CSS_SELECTOR, "ul.navbar-nav a.dropdown-item")
    served = {re.sub(r"^http://[^/]+", "", str(link.get_attribute("href"))) for link in links}
    assert served == {page_path(file) for _, file in nav_pages()}
    for path in sorted(served):
        try:
            status = urllib.request.urlopen(site_url + path, timeout=10).status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status == 200, f"{path} answered {status}"
        ui.open(path)
        assert ui.browser.title.endswith(" - airflow-provider-apollo") or path == "/", (
            path,
            ui.browser.title,
        )
        assert ui.find(By.CSS_SELECTOR, "div[role=main] h1").text.strip(), f"{path} has no title"


def test_every_class_the_home_page_names_is_in_the_api_reference(docs_site: Path) -> None:
    home = (docs_site / "index.html").read_text()
    table = home.split('id="what-it-does"', 1)[1].split("</table>", 1)[0]
    names = {
        name
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL)[1:]
        for name in re.findall(r"<code>(\w+)</code>", row.split("</td>")[1])
    }
    reference = "".join(page.read_text() for page in (docs_site / "reference").glob("*/index.html"))
    documented = set(re.findall(r'id="airflow_provider_apollo\.[\w.]*?\.(\w+)"', reference))
    assert len(names) > 20
    assert names - documented == set(), "named on the home page but not in the API reference"
