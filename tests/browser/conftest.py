"""A real headless Chromium (Debian's `chromium`) driven by Playwright, for the review page.

Where no Chromium can be found the tests marked `browser` are skipped with the reason,
except when CI is "true" or ARCHIVE_IMPORT_REQUIRE_BROWSER=1: then they fail. The page is
loaded from a file:// URL, as a reviewer opens it; every request, console message, page
error and dialog is recorded, so that a test can assert that none happened.
"""

import os
import shutil
from pathlib import Path

import pytest

from pagewatch import Watched

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ARCHIVE_IMPORT_ARTIFACTS", ROOT / "build" / "test-artifacts"))


def _required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("ARCHIVE_IMPORT_REQUIRE_BROWSER") == "1"


def _executable() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


@pytest.fixture(scope="session")
def chromium():
    exe = _executable()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:       # pragma: no cover - the test extra installs it
        exe, reason = None, f"playwright is not installed ({exc})"
    else:
        reason = "no Chromium found (Debian: apt-get install chromium)"
    if exe is None:
        if _required():
            pytest.fail(f"Chromium is required here (CI/ARCHIVE_IMPORT_REQUIRE_BROWSER) but: {reason}")
        pytest.skip(reason)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def watched(chromium):
    context = chromium.new_context(viewport={"width": 1200, "height": 1400})
    page = Watched(context.new_page())
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
