"""Headless Chromium driving Airflow's React UI: start-up, waits that survive re-renders, toasts, screenshots.

The Airflow 3 UI re-renders form fields on every keystroke, so a located element can go stale
between two calls; every helper here locates again and retries instead of holding elements.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

T = TypeVar("T")

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1800",
)
INSTALL_HINT = (
    "the browser test needs Debian's chromium and chromium-driver: `make test` installs them, or run "
    "`apt-get install -y chromium chromium-driver`"
)
RETRYABLE = (StaleElementReferenceException, NoSuchElementException, ElementClickInterceptedException)


def chromium_paths() -> tuple[str, str]:
    """The Chromium binary and its matching chromedriver, or a failure saying how to install them."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        raise RuntimeError(INSTALL_HINT)
    return chromium, driver


def start_chromium(profile_dir: Path) -> WebDriver:
    """Headless Chromium with a fresh profile; the driver path is explicit, so Selenium downloads nothing."""
    chromium, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    browser.set_page_load_timeout(30)
    return browser


def retry(action: Callable[[], T], timeout: float = 15.0, what: str = "the page") -> T:
    """Run ``action`` until it neither raises a lookup error nor returns a falsy value."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = action()
            if result:
                return result
        except RETRYABLE as error:
            last = error
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}") from last


class Ui:
    """One browser on an Airflow api-server; step screenshots go to ``shots``."""

    def __init__(self, browser: WebDriver, base_url: str, shots: Path) -> None:
        self.browser = browser
        self.base_url = base_url
        self.shots = shots
        self.failed = False
        self._count = 0

    def shot(self, name: str) -> Path:
        self._count += 1
        path = self.shots / f"{self._count:02d}-{name}.png"
        self.browser.save_screenshot(str(path))
        return path

    def open(self, path: str) -> None:
        self.browser.get(self.base_url + path)

    def find(self, by: str, value: str, timeout: float = 15.0) -> WebElement:
        return retry(lambda: self.browser.find_element(by, value), timeout, f"{by}={value!r}")

    def click(self, by: str, value: str, timeout: float = 15.0) -> None:
        def attempt() -> bool:
            element = self.browser.find_element(by, value)
            if not element.is_enabled():
                return False
            element.click()
            return True

        retry(attempt, timeout, f"a clickable {by}={value!r}")

    def value(self, name: str) -> str:
        return retry(
            lambda: self.browser.find_element(By.NAME, name).get_attribute("value") or "-", what=name
        )

    def type_into(self, name: str, text: str, then_tab: bool = True) -> str:
        """Replace the text of the input named ``name`` as a user does; return its value after blur."""
        self.click(By.NAME, name)
        keys = ActionChains(self.browser).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL)
        keys.send_keys(Keys.BACKSPACE).perform()
        for char in text:  # one key at a time: the React input re-renders after each
            ActionChains(self.browser).send_keys(char).perform()
            time.sleep(0.05)
        if then_tab:
            ActionChains(self.browser).send_keys(Keys.TAB).perform()
            time.sleep(0.3)
        value = self.browser.find_element(By.NAME, name).get_attribute("value")
        return value or ""

    def dialog(self) -> WebElement:
        return self.find(By.CSS_SELECTOR, "[role=dialog]")

    def dialog_text(self) -> str:
        return retry(lambda: self.dialog().text, what="the dialog's text")

    def toasts(self, containing: str, timeout: float = 20.0) -> list[str]:
        """The toasts on screen (title and description) once one of them contains ``containing``."""

        def read() -> list[str]:
            roots = self.browser.find_elements(By.CSS_SELECTOR, "[data-scope=toast][data-part=root]")
            texts = [text for text in (root.text.strip() for root in roots) if text]
            return texts if any(containing in text for text in texts) else []

        return retry(read, timeout, f"a toast saying {containing!r}")

    def dismiss_toasts(self) -> None:
        for button in self.browser.find_elements(
            By.CSS_SELECTOR, "[data-scope=toast][data-part=close-trigger]"
        ):
            with contextlib.suppress(*RETRYABLE):
                button.click()
        retry(
            lambda: not self.browser.find_elements(By.CSS_SELECTOR, "[data-scope=toast][data-part=root]"),
            10,
            "the toasts to close",
        )

    def page_text(self) -> str:
        return str(self.browser.find_element(By.TAG_NAME, "body").text)


def new_shots_dir(requested: str | None = None) -> Path:
    """``requested``, or a new directory outside pytest's tmp_path (which it prunes), for screenshots."""
    if requested:
        path = Path(requested)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix="apollo-browser-shots-"))
