"""The search page in a real browser (Debian's Chromium, Selenium): type, page, filter, open articles."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import pytest

from conftest import ARTICLES
from serving import HOSTILE, LiveServer, write_jsonl

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CORPUS = Path(__file__).resolve().parents[1] / "corpus"
#: Where the screenshots go with HNP_SEARCH_SCREENSHOTS=1 (`make screenshots`; the README shows one);
#: otherwise into the test's temporary folder, so a test run leaves the work tree as it was.
RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(f"no browser: {CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install -y chromium chromium-driver)",
                allow_module_level=True)

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def navigate(browser, action) -> None:
    """Do ``action`` (a click, a key) and wait until the next page has replaced this one."""
    page = browser.find_element(By.TAG_NAME, "html")
    action()
    WebDriverWait(browser, 20).until(expected_conditions.staleness_of(page))
    WebDriverWait(browser, 20).until(lambda b: b.execute_script("return document.readyState") == "complete")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from hnp_search import SearchEngine

    folder = tmp_path_factory.mktemp("browser")
    hostile = write_jsonl(folder / "hostile.jsonl", [HOSTILE])
    with SearchEngine(folder / "index") as engine:
        engine.index([ARTICLES, CORPUS, hostile], jobs=1)
    live = LiveServer(folder / "index", folder / "server.log")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    return RESULTS if os.environ.get("HNP_SEARCH_SCREENSHOTS") == "1" else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1400",
                 "--lang=vi", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def dates_shown(browser) -> list[datetime]:
    metas = [m.text for m in browser.find_elements(By.CSS_SELECTOR, "li.hit .meta")]
    return [datetime.strptime(re.match(r"\d\d/\d\d/\d{4}", m).group(), "%d/%m/%Y") for m in metas]


def test_search_page_end_to_end(site, browser, screenshots):
    browser.get(site.url + "/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi"
    box = browser.find_element(By.NAME, "q")
    navigate(browser, lambda: box.send_keys("ha noi" + Keys.ENTER))  # typed without diacritics

    total = browser.find_element(By.ID, "total").text
    assert re.match(r"Tìm thấy \d+ bài cho «ha noi»", total), total
    found = int(re.search(r"\d+", total).group())
    assert found > 10
    hits = browser.find_elements(By.CSS_SELECTOR, "li.hit")
    assert len(hits) == 10
    marked = {m.text.lower() for m in browser.find_elements(By.CSS_SELECTOR, "li.hit mark")}
    assert "hà nội" in marked
    colour = browser.find_element(By.CSS_SELECTOR, "li.hit mark").value_of_css_property("background-color")
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent")
    assert browser.save_screenshot(str(screenshots / "server-search-page.png"))

    first_page = [h.find_element(By.CSS_SELECTOR, "h2 a").text for h in hits]
    navigate(browser, browser.find_element(By.CSS_SELECTOR, "a[rel=next]").click)
    assert browser.find_element(By.CSS_SELECTOR, "[aria-current=page]").text == "2"
    second_page = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "li.hit h2 a")]
    assert second_page and not set(second_page) & set(first_page)
    assert browser.find_element(By.CSS_SELECTOR, "ol.hits").get_attribute("start") == "11"

    date_from = browser.find_element(By.ID, "from")
    date_from.clear()
    date_from.send_keys("01/01/2024")
    date_to = browser.find_element(By.ID, "to")
    date_to.clear()
    date_to.send_keys("30/06/2024")
    navigate(browser, browser.find_element(By.ID, "apply").click)
    assert "from=01%2F01%2F2024" in browser.current_url and "page=" not in browser.current_url
    filtered = int(re.search(r"\d+", browser.find_element(By.ID, "total").text).group())
    assert 0 < filtered < found
    days = dates_shown(browser)
    assert days and all(datetime(2024, 1, 1) <= d <= datetime(2024, 6, 30) for d in days)
    assert browser.find_elements(By.CSS_SELECTOR, "#facet-category li, #facet-person li, #facet-period li")
    assert browser.save_screenshot(str(screenshots / "server-search-filtered.png"))

    title = browser.find_element(By.CSS_SELECTOR, "li.hit h2 a")
    heading = title.text
    navigate(browser, title.click)
    assert browser.find_element(By.TAG_NAME, "h1").text == heading
    related = browser.find_elements(By.CSS_SELECTOR, "#related li a")
    assert related
    other = related[0].text
    navigate(browser, related[0].click)
    assert browser.find_element(By.TAG_NAME, "h1").text == other != heading
    assert browser.save_screenshot(str(screenshots / "server-article-page.png"))


def test_hostile_article_runs_nothing_in_the_browser(site, browser):
    browser.get(site.url + f"/bai/{HOSTILE['id']}")
    with pytest.raises(NoAlertPresentException):
        _ = browser.switch_to.alert.text
    assert browser.title.startswith("<script>alert('tiêu đề')</script> Phố cổ mùa thu")  # shown as text, not run
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading.startswith("<script>") and 'onerror=alert(1)>' in heading
    assert not browser.find_elements(By.CSS_SELECTOR, "article img, article iframe, article script")
    assert browser.execute_script("return window.__xss === undefined && document.images.length === 0")
    browser.get(site.url + "/?q=" + "pho co mua thu")
    with pytest.raises(NoAlertPresentException):
        _ = browser.switch_to.alert.text
    assert not browser.find_elements(By.CSS_SELECTOR, "li.hit img, li.hit iframe, li.hit script")


def test_the_page_works_without_javascript(site, tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-nojs')}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    try:
        driver.get(site.url + "/")
        navigate(driver, lambda: driver.find_element(By.NAME, "q").send_keys("metro" + Keys.ENTER))
        assert driver.find_element(By.ID, "total").text.startswith("Tìm thấy")
        assert driver.find_elements(By.CSS_SELECTOR, "li.hit mark")
    finally:
        driver.quit()

