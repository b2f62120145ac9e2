"""Admin -> Connections -> Add -> "Apollo.io" in headless Chromium, against a real api-server and the emulator.

What a user sees: the fields the provider hides are absent, the password and host carry Apollo's
names, the extras start at the hook's defaults with no "null" choice and the form refuses values
the hook would reject; a saved connection passes the tests the docs describe (the CLI, and the
row's Test button once the connection has a port) and a wrong key gives a readable error.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from airflow_provider_apollo.testing import ApolloEmulator
from tests.browser.browser_support import Ui, retry
from tests.e2e.airflow_cluster import AirflowCluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

CONN_ID = "apollo_browser"
SAVE = ".//button[normalize-space()='Save']"
SAVE_IN_DIALOG = "//*[@role='dialog']//button[normalize-space()='Save']"
DEFAULT_EXTRA = {"auth_type": "api_key", "timeout": 30, "max_retries": 5, "max_retry_wait": 60}


def rest(cluster: AirflowCluster, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The public REST API (the loopback deployment runs SimpleAuthManager with everyone an admin)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{cluster.api_port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def open_add_form(ui: Ui, conn_id: str) -> None:
    ui.open("/connections")
    ui.click(By.XPATH, "//button[normalize-space()='Add Connection']")
    ui.find(By.NAME, "connection_id").send_keys(conn_id)
    ui.find(By.CSS_SELECTOR, "[role=dialog] input[role=combobox]").send_keys("Apollo.io")
    ui.click(By.XPATH, "//*[@role='option' and normalize-space()='Apollo.io']")
    ui.find(By.NAME, "host")


def open_extra_fields(ui: Ui) -> None:
    ui.click(By.XPATH, "//*[@role='dialog']//button[normalize-space()='Extra Fields']")
    ui.find(By.NAME, "element_timeout")


def field_label(ui: Ui, name: str) -> str:
    """The label text of the dialog's input named ``name`` (the label's ``for`` is the input's id)."""
    input_id = ui.find(By.NAME, name).get_attribute("id")
    return str(ui.find(By.CSS_SELECTOR, f"label[for='{input_id}']").text).replace("*", "").strip()


def test_add_form_shows_the_apollo_fields_as_declared(ui: Ui) -> None:
    open_add_form(ui, "apollo_form_check")
    dialog = ui.dialog()
    ui.shot("standard-fields")

    # Standard fields: login, schema and port hidden; password and host in Apollo's words.
    names = {
        str(element.get_attribute("name")) for element in dialog.find_elements(By.CSS_SELECTOR, "[name]")
    }
    assert {"description", "host", "password"} <= names
    assert not {"login", "schema", "port"} & names, f"hidden fields shown: {sorted(names)}"
    text = ui.dialog_text()
    for hidden_label in ("Login", "Schema", "Port"):
        assert hidden_label not in text.splitlines()
    assert field_label(ui, "host") == "Base URL"
    assert field_label(ui, "password") == "API key"
    assert ui.find(By.NAME, "host").get_attribute("placeholder") == "https://api.apollo.io/api/v1"
    assert ui.find(By.NAME, "password").get_attribute("type") == "password"

    # Extras: each starts at the hook's default.
    open_extra_fields(ui)
    ui.shot("extra-fields")
    assert field_label(ui, "element_timeout") == "Timeout (seconds)"
    assert field_label(ui, "element_max_retries") == "Max retries"
    assert field_label(ui, "element_max_retry_wait") == "Max retry wait (seconds)"
    assert ui.value("element_auth_type") == "api_key"
    assert ui.value("element_timeout") == "30"
    assert ui.value("element_max_retries") == "5"
    assert ui.value("element_max_retry_wait") == "60"
    assert "api_key (x-api-key header)" in ui.find(By.ID, "element_auth_type").text

    # Auth type offers the two modes and no "null".
    ui.click(By.CSS_SELECTOR, "#element_auth_type input[role=combobox]")
    options = retry(
        lambda: [o.text for o in ui.browser.find_elements(By.CSS_SELECTOR, "[role=option]")],
        what="the auth type options",
    )
    ui.shot("auth-type-options")
    assert options == ["api_key (x-api-key header)", "bearer (OAuth token)"]
    ui.click(By.XPATH, "//*[@role='option' and normalize-space()='api_key (x-api-key header)']")

    # Bounds the hook enforces: a timeout of 0 becomes the form's minimum (1 s); a negative
    # retry budget is not a value at all, so the field is required again and Save is disabled.
    assert ui.type_into("element_timeout", "0") == "1"
    assert ui.type_into("element_max_retries", "-3") == ""
    ui.shot("negative-retries-refused")
    assert "This field is required" in ui.dialog_text()
    assert ui.dialog().find_element(By.XPATH, SAVE).get_attribute("disabled") is not None
    assert ui.type_into("element_max_retry_wait", "-1") == ""
    assert ui.type_into("element_max_retries", "0") == "0"
    assert ui.type_into("element_max_retry_wait", "0") == "0"
    assert retry(lambda: ui.dialog().find_element(By.XPATH, SAVE).get_attribute("disabled") is None)
    ui.click(By.CSS_SELECTOR, "[role=dialog] button[aria-label=Close]")


def test_saved_connection_tests_and_reads_back(
    ui: Ui, airflow_ui: AirflowCluster, emulator: ApolloEmulator
) -> None:
    # Add it as a user does: key and base URL (the emulator's), everything else as the form offers.
    open_add_form(ui, CONN_ID)
    ui.type_into("host", emulator.url)
    ui.type_into("password", emulator.api_key)
    ui.shot("filled")
    ui.click(By.XPATH, SAVE_IN_DIALOG)
    row = f"//tr[.//*[normalize-space()='{CONN_ID}']]"
    ui.find(By.XPATH, row)
    ui.dismiss_toasts()
    ui.shot("saved")

    # What Airflow stored: the extras at their defaults, no port, no login.
    stored = rest(airflow_ui, "GET", f"/api/v2/connections/{CONN_ID}")
    assert stored["conn_type"] == "apollo"
    assert stored["host"] == emulator.url
    assert stored["port"] is None and stored["login"] is None and stored["schema"] is None
    assert json.loads(stored["extra"]) == DEFAULT_EXTRA
    assert stored["password"] == "***"

    # Airflow 3.3's row Test button sends port 0 for a connection without one and refuses it
    # (docs/connection.md says so and what to do instead).
    ui.click(By.XPATH, f"{row}//button[@aria-label='Test Connection']")
    toasts = ui.toasts("Test Connection")
    ui.shot("test-button-without-port")
    assert any("Test Connection Failed" in t and "Bad Request" in t for t in toasts), (
        f"{toasts}: if Airflow now tests a connection saved without a port, update the "
        "'Testing it' section of docs/connection.md"
    )
    ui.dismiss_toasts()

    # What the docs say to do instead: the CLI tests the very connection the form saved.
    result = airflow_ui.cli("connections", "test", CONN_ID, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Connection success!" in result.stdout
    assert emulator.api_key not in result.stdout + result.stderr

    # With a port stored (the hook ignores it), the row's button works.
    rest(
        airflow_ui,
        "PATCH",
        f"/api/v2/connections/{CONN_ID}?update_mask=port",
        {"connection_id": CONN_ID, "conn_type": "apollo", "port": 443},
    )
    ui.open("/connections")
    ui.click(By.XPATH, f"{row}//button[@aria-label='Test Connection']")
    toasts = ui.toasts("Test Connection")
    ui.shot("test-button-success")
    assert any(
        "Test Connection Successful" in t and f"Connected to Apollo at {emulator.url}" in t for t in toasts
    ), toasts
    ui.dismiss_toasts()

    # A wrong key, typed into the edit form: a readable failure, and the key shown nowhere.
    wrong_key = f"wrong-{emulator.api_key[::-1]}"
    ui.click(By.XPATH, f"{row}//button[@aria-label='Edit Connection']")
    assert ui.value("password") == "***"
    ui.type_into("password", wrong_key)
    ui.click(By.XPATH, SAVE_IN_DIALOG)
    retry(lambda: not ui.browser.find_elements(By.CSS_SELECTOR, "[role=dialog]"), what="the dialog to close")
    ui.dismiss_toasts()
    ui.click(By.XPATH, f"{row}//button[@aria-label='Test Connection']")
    toasts = ui.toasts("Test Connection")
    ui.shot("test-button-bad-key")
    assert any("Test Connection Failed" in t and "401" in t for t in toasts), toasts
    assert wrong_key not in ui.page_text()
    assert not any("Traceback" in t or "urllib3" in t for t in toasts), toasts

    # The extras survived the edit.
    stored = rest(airflow_ui, "GET", f"/api/v2/connections/{CONN_ID}")
    assert json.loads(stored["extra"]) == DEFAULT_EXTRA
    assert stored["port"] == 443
