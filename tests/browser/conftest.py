"""A real ``airflow api-server`` on loopback, the Apollo emulator, and headless Chromium pointed at them."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_apollo.testing import ApolloEmulator
from tests.browser.browser_support import Ui, new_shots_dir, start_chromium
from tests.e2e.airflow_cluster import AirflowCluster

REPO = Path(__file__).resolve().parents[2]
MIGRATED_DB = REPO / "airflow-home" / "airflow.db"
SHOTS_ENV = "APOLLO_BROWSER_SHOTS"  # a directory: keep every step's screenshot there, pass or fail


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so the ``ui`` fixture knows whether the test failed."""
    outcome: Any = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="module")
def emulator() -> Iterator[ApolloEmulator]:
    with ApolloEmulator(api_key=f"browser-{uuid.uuid4().hex}", seed=13) as running:
        yield running


@pytest.fixture(scope="module")
def airflow_ui() -> Iterator[AirflowCluster]:
    """The api-server alone (UI and REST API), its own home, connection testing enabled."""
    home = Path(tempfile.mkdtemp(prefix="apollo-browser-airflow-"))
    if MIGRATED_DB.exists():  # `make test` migrated it already: a copy saves the migration's seconds
        shutil.copy(MIGRATED_DB, home / "airflow.db")
    (home / "dags").mkdir()
    cluster = AirflowCluster(
        home=home,
        dags_folder=home / "dags",
        env={"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"},
    )
    try:
        cluster.start(components=("api-server",))
        cluster.wait_for_api(timeout=90)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def browser_session(airflow_ui: AirflowCluster) -> Iterator[Ui]:
    profile = Path(tempfile.mkdtemp(prefix="apollo-browser-profile-"))
    browser = start_chromium(profile)
    keep = os.environ.get(SHOTS_ENV)
    ui = Ui(browser, f"http://127.0.0.1:{airflow_ui.api_port}", new_shots_dir(keep))
    try:
        yield ui
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
        # Step screenshots are kept when a test failed, or on request (to look at the form).
        if not ui.failed and not keep:
            shutil.rmtree(ui.shots, ignore_errors=True)


@pytest.fixture
def ui(browser_session: Ui, request: pytest.FixtureRequest) -> Iterator[Ui]:
    """The browser for one test; on failure a screenshot and the page's HTML, and their path printed."""
    yield browser_session
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = request.node.name
        browser_session.failed = True
        png = browser_session.shot(f"FAILED-{name}")
        html = png.with_suffix(".html")
        html.write_text(browser_session.browser.page_source)
        print(f"\nbrowser test failed: screenshots in {browser_session.shots} (last: {png}, page: {html})")
