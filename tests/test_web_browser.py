"""The pages in a real browser: Debian's Chromium driven by Playwright, against `jicai serve` on a small
simulated province with the demo's logins. Screenshots go to test-artifacts/ (kept by CI as artifacts).

What a person does: log in as each role and see only their rows; a hospital files a supply problem, the
bureau verifies it, the hospital sees the decision and its completion rise; the bureau uploads a file with
bad rows and sees them reported; the bureau downloads a report; the bureau reads the API documentation
(Swagger UI at /docs, ReDoc at /redoc), loaded from jicai alone.

Every page opened here and in tests/test_web_browser_pages.py is watched for what the browser says about the
Content-Security-Policy (jicai.web.security): any violation fails the test that opened the page.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from tests.conftest import unavailable

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = os.environ.get("JICAI_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "jicai-demo"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

# Chromium's console messages about the Content-Security-Policy ("Refused to execute inline script because it
# violates the following Content Security Policy directive …"), from every page page_as opened in this test
CSP_ERRORS: list[str] = []


@pytest.fixture(autouse=True)
def no_csp_violation():
    """Fail a test whose pages broke the Content-Security-Policy (a blocked script or style is a broken page)."""
    CSP_ERRORS.clear()
    yield
    assert not CSP_ERRORS, "Content-Security-Policy violations:\n" + "\n".join(CSP_ERRORS[:10])


def watch_csp(page) -> None:
    page.on("console", lambda msg: "Content Security Policy" in msg.text and CSP_ERRORS.append(f"{page.url}: {msg.text}"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served demo province (80 institutions × 12 months). The sentinel hospital's imported shortage report
    is removed first, so that its backup purchases count as selected only once the bureau verifies the report
    it files in the browser."""
    import uvicorn

    from jicai.commands.demo import create_demo_users, run_demo
    from jicai.settings import Settings
    from jicai.web.app import create_app
    from jicai.web.config import WebConfig

    d = tmp_path_factory.mktemp("site")
    settings = Settings.resolve(d)
    with settings.warehouse() as wh:
        r = run_demo(d, wh, institutions=80, months=12, seed=7)
        short = r["manifest"].of_kind("shortage")[0]
        hospital = short.institution_codes[0]
        wh.con.raw_sql(f"DELETE FROM supply_problems WHERE institution_code = '{hospital}'")
    logins = {name: (role, scope) for name, role, scope, _ in create_demo_users(settings, r["manifest"])}
    # a page waits for its figures up to two minutes (not 20 s): beside the Spark tests on two cores the
    # server's warm-up of every dataset can take longer than a user would wait, and a "computing, retry" page
    # has no form to fill
    app = create_app(WebConfig.resolve(settings, env={"JICAI_WEB_WAIT": "120"}))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "logins": logins, "shortage": short, "hospital": hospital,
           "as_of": str(r["manifest"].as_of)}
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium not found at {CHROMIUM} (scripts/services.sh installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = pw.chromium.launch(executable_path=CHROMIUM,
                           args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
    yield b
    b.close()
    pw.stop()


def page_as(browser, site, name: str, lang: str = "zh"):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN")
    page = ctx.new_page()
    watch_csp(page)
    page.set_default_timeout(150_000)
    page.goto(f"{site['url']}/login?lang={lang}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    assert "/login" not in page.url, page.content()[:2000]
    return page


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def column(page, header_name: str) -> list[str]:
    """The cells of the dataset table's column ``header_name`` (its header's data-col)."""
    cols = page.locator("table[data-testid=rows] thead th").evaluate_all("ths => ths.map(th => th.dataset.col)")
    idx = cols.index(header_name)
    cells = page.locator(f"table[data-testid=rows] tbody tr td:nth-child({idx + 1})")
    # a code is shown under its name (small.code); the code is what the scope checks compare
    return [cells.nth(i).locator("small.code").inner_text() if cells.nth(i).locator("small.code").count()
            else cells.nth(i).inner_text() for i in range(cells.count())]


def test_bureau_overview_with_charts(browser, site):
    page = page_as(browser, site, "bureau")
    assert page.locator("[data-testid=kpi-institutions]").inner_text().strip().isdigit()
    page.wait_for_selector("#chart-variety[data-ready='1'] svg")
    page.wait_for_selector("#chart-trend[data-ready='1'] svg", timeout=120_000)  # 12 month ends, first time
    shot(page, "bureau_overview")
    page.goto(f"{site['url']}/ranking")  # the province: every city
    # the region column shows each region by name with its code in small type
    cities = {t[:4] for t in page.locator("table[data-testid=ranking] tbody tr td:nth-child(5) small.code")
              .all_inner_texts()}
    assert len(cities) > 3
    page.context.close()


def test_district_bureau_sees_only_its_region(browser, site):
    page = page_as(browser, site, "quanzhou")
    page.goto(f"{site['url']}/data/monitor?as_of={site['as_of']}")
    regions = column(page, "region_code")
    assert regions and all(r.startswith("3505") for r in regions)
    page.goto(f"{site['url']}/ranking")
    assert page.locator("table[data-testid=ranking] tbody tr").count() > 0
    regions = page.locator("table[data-testid=ranking] tbody tr td:nth-child(5) small.code").all_inner_texts()
    assert regions and all(t.startswith("3505") for t in regions)
    page.context.close()


def test_hospital_sees_only_itself(browser, site):
    code = site["hospital"]
    page = page_as(browser, site, "hospital")
    assert page.locator("[data-testid=institution-name]").inner_text().strip()
    page.wait_for_selector("#chart-progress[data-ready='1'] svg")
    shot(page, "hospital_detail")
    page.goto(f"{site['url']}/data/monitor?as_of={site['as_of']}")
    codes = column(page, "institution_code")
    assert codes and set(codes) == {code}
    other = "H35010200001" if code != "H35010200001" else "H35010200002"
    resp = page.goto(f"{site['url']}/institutions/{other}")
    assert resp.status == 404
    page.goto(f"{site['url']}/data/monitor?institution_code={other}")
    assert page.locator("table[data-testid=rows] tbody tr").count() == 0
    page.context.close()


def test_supplier_and_auditor_see_their_part(browser, site):
    page = page_as(browser, site, "supplier")
    assert page.goto(f"{site['url']}/ranking").status == 403
    assert page.goto(f"{site['url']}/data/listing").status == 200
    page.context.close()
    page = page_as(browser, site, "auditor")
    assert page.locator("nav a[href='/import']").count() == 0
    assert page.goto(f"{site['url']}/import").status == 403
    page.context.close()


def _completion(page, site, variety: str) -> float:
    page.goto(f"{site['url']}/institutions/{site['hospital']}?as_of={site['as_of']}")
    return float(page.locator(f"[data-testid=completion-{variety}]").inner_text().strip().rstrip("%"))


def test_supply_problem_filed_verified_and_the_figure_changes(browser, site):
    short = site["shortage"]
    variety = short.variety_ids[0]
    hospital = page_as(browser, site, "hospital")
    before = _completion(hospital, site, variety)
    hospital.goto(f"{site['url']}/supply-reports")
    hospital.fill("input[name=product_code]", short.product_codes[0])
    hospital.select_option("select[name=problem]", "shortage")
    hospital.fill("input[name=start_date]", short.start)
    hospital.fill("input[name=end_date]", short.end)
    hospital.fill("textarea[name=description]", "中选产品断供,已改用备供产品")
    hospital.click("form[data-testid=file-report] button[type=submit]")
    hospital.wait_for_url(re.compile(r"/supply-reports/\d+$"))
    report_id = hospital.url.rsplit("/", 1)[1]
    assert "待" in hospital.locator("[data-testid=status]").first.inner_text()  # 待核实: pending

    bureau = page_as(browser, site, "bureau")
    bureau.goto(f"{site['url']}/supply-reports/{report_id}")
    bureau.select_option("select[name=decision]", "verify")
    bureau.fill("textarea[name=comment]", "经核实,中选企业供应不足")
    bureau.click("form[data-testid=decide] button[type=submit]")
    bureau.wait_for_load_state("load")
    assert "核实" in bureau.locator("[data-testid=status]").first.inner_text()
    bureau.context.close()

    hospital.goto(f"{site['url']}/supply-reports/{report_id}")
    assert "核实" in hospital.locator("[data-testid=status]").first.inner_text()
    after = _completion(hospital, site, variety)
    shot(hospital, "hospital_after_verification")
    assert after > before, (before, after)
    hospital.context.close()


def test_upload_with_bad_rows_reports_them(browser, site, tmp_path):
    f = tmp_path / "regions_new.csv"
    f.write_text("region_code,name,parent_code\n350199,新区,350100\n35X1,坏代码,350100\n350198,另一区,999999\n",
                 encoding="utf-8")
    page = page_as(browser, site, "bureau")
    page.goto(f"{site['url']}/import")
    page.set_input_files("input[name=file]", str(f))
    page.click("form[data-testid=import-form] button[type=submit]")
    page.wait_for_selector("[data-testid=import-status]")
    rows = page.locator("table[data-testid=quarantine] tbody tr")
    assert rows.count() >= 2
    text = page.locator("table[data-testid=quarantine]").inner_text()
    assert "35X1" in text and "999999" in text
    assert "入库 1" in page.locator("[data-testid=import-counts]").inner_text()
    shot(page, "import_quarantine")
    page.context.close()


def test_download_a_report(browser, site, tmp_path):
    page = page_as(browser, site, "bureau")
    page.goto(f"{site['url']}/reports")
    with page.expect_download() as dl:
        page.click("[data-testid=report-monthly-xlsx]")
    path = tmp_path / "report.xlsx"
    dl.value.save_as(path)
    assert path.read_bytes()[:2] == b"PK" and path.stat().st_size > 5000
    page.goto(f"{site['url']}/data/monitor")
    with page.expect_download() as dl:
        page.click("[data-testid=export-xlsx]")
    assert dl.value.suggested_filename.endswith(".xlsx")
    page.context.close()


@pytest.mark.parametrize(("path", "rendered"), [("/docs", ".swagger-ui .opblock"), ("/redoc", ".api-content h2")])
def test_api_documentation_loads_from_jicai_alone(browser, site, path, rendered):
    """Swagger UI and ReDoc render the API under the policy, every request going to jicai itself."""
    page = page_as(browser, site, "bureau")
    elsewhere: list[str] = []
    page.on("request", lambda req: req.url.startswith(site["url"]) or req.url.startswith(("data:", "blob:"))
            or elsewhere.append(req.url))
    resp = page.goto(f"{site['url']}{path}")
    assert resp.status == 200, (path, resp.status)
    page.wait_for_selector(rendered, timeout=60_000)
    assert page.locator(rendered).count() > 3  # the operations are listed, not an error box
    shot(page, f"api_docs{path.replace('/', '_')}")
    assert not elsewhere, elsewhere
    page.context.close()
