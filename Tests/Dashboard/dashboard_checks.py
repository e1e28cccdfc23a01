"""Opens every page of fleetd's dashboard in headless Chromium and checks it against the API.

Run by Tests/FleetdTests/Dashboard/DashboardBrowserTests.swift against a real fleetd (with a
fake provider) that has already run a few tasks. Environment: FLEETD_URL, FLEETD_ADMIN_TOKEN,
SCREENSHOT_DIR. Exits 0 and prints `ok dashboard` when every check passes; any failed check
raises with what the page showed and what the API said. Uses Debian's chromium and
chromedriver (/usr/bin), never a downloaded browser.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

BASE = os.environ["FLEETD_URL"].rstrip("/")
TOKEN = os.environ["FLEETD_ADMIN_TOKEN"]
SHOTS = os.environ["SCREENSHOT_DIR"]
FLAG = "streaming"


def api(path, method="GET", body=None, token=None):
    request = urllib.request.Request(BASE + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header("Accept", "application/json")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=10) as response:
        data = response.read().decode()
        return json.loads(data) if "json" in response.headers.get("Content-Type", "") else data


def usd(value):
    return "$" + f"{value:.4f}"


def pct(value):
    return "—" if value is None else f"{value * 100:.1f}%"


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def wait(what, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as error:  # the page is redrawing; try again
            last = error
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def make_driver():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--lang=en-GB", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def open_page(driver, page):
    driver.get(f"{BASE}/ui/{page}")
    wait(f"the {page} page to load", lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == page)


def text(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text.strip()


def screenshot(driver, name, width=1280):
    height = driver.execute_script("return Math.max(document.documentElement.scrollHeight, 600)")
    driver.set_window_size(width, min(height + 120, 4000))
    time.sleep(0.3)
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)
    driver.set_window_size(1280, 900)
    print("screenshot", path)


def check_overview(driver):
    open_page(driver, "overview")
    live = api("/v1/stats/live")
    check(live["totalTasks"] > 0, f"the API counted no tasks: {live}")
    check(text(driver, "[data-figure=totalTasks]") == str(live["totalTasks"]),
          f"tasks shown {text(driver, '[data-figure=totalTasks]')} != API {live['totalTasks']}")
    check(text(driver, "[data-figure=activeStreams]") == str(live["activeStreams"]) == "1",
          f"open streams shown {text(driver, '[data-figure=activeStreams]')}, API {live['activeStreams']}; the test holds one open")
    check(text(driver, "[data-figure=totalErrors]") == str(live["totalErrors"]),
          f"errors shown {text(driver, '[data-figure=totalErrors]')} != API {live['totalErrors']}")
    minute = live["buckets"][-round(60 / live["bucketSeconds"]):]
    rate = sum(b["tasks"] for b in minute) / (len(minute) * live["bucketSeconds"])
    shown_rate = text(driver, "figure[data-chart=tasksPerSecond] [data-figure=headline]").split()[0]
    check(shown_rate == f"{rate:.2f}", f"tasks per second shown {shown_rate}, API's last minute {rate:.2f}")
    shown_errors = text(driver, "figure[data-chart=errors] [data-figure=headline]").split()[0]
    check(shown_errors == str(sum(b["errors"] for b in minute)) == "1", f"errors shown {shown_errors}, API {minute}")
    charts = driver.find_elements(By.CSS_SELECTOR, "figure[data-chart]")
    names = sorted(c.get_attribute("data-chart") for c in charts)
    check(names == sorted(["tasksPerSecond", "errors", "latencyP50Ms", "latencyP99Ms", "firstChunkP50Ms", "activeStreams", "queueDepth"]),
          f"charts: {names}")
    for key in ("tasksPerSecond", "latencyP50Ms", "firstChunkP50Ms"):
        lines = driver.find_elements(By.CSS_SELECTOR, f"figure[data-chart={key}] polyline, figure[data-chart={key}] circle")
        check(lines, f"the {key} chart draws no line although tasks ran")
        label = driver.find_element(By.CSS_SELECTOR, f"figure[data-chart={key}]").get_attribute("aria-label")
        check("latest" in label and "none" not in label.split("latest")[1][:6], f"{key} chart label: {label}")
    screenshot(driver, "overview")


def check_spend(driver):
    open_page(driver, "spend")
    costs = api("/v1/costs?period=day")
    report = costs["report"]
    check(report["total"]["cost"] > 0, f"nothing was billed: {report['total']}")
    check(text(driver, "[data-figure=total]") == usd(report["total"]["cost"]),
          f"total shown {text(driver, '[data-figure=total]')} != API {usd(report['total']['cost'])}")
    for line in report["byModel"]:
        row = driver.find_element(By.CSS_SELECTOR, f"[data-table=by-model] tr[data-line='{line['name']}']")
        check(usd(line["cost"]) in row.text, f"model {line['name']}: row '{row.text}' lacks {usd(line['cost'])}")
    for line in costs["byAgentType"]:
        row = driver.find_element(By.CSS_SELECTOR, f"[data-table=by-agent-type] tr[data-line='{line['name']}']")
        check(usd(line["cost"]) in row.text, f"agent type {line['name']}: row '{row.text}' lacks {usd(line['cost'])}")
    check(sorted(l["name"] for l in costs["byAgentType"]) == ["coder", "general"], f"agent types: {costs['byAgentType']}")
    alerts = wait("a budget alert", lambda: api("/v1/costs?period=day")["alerts"])
    open_page(driver, "spend")
    rows = driver.find_elements(By.CSS_SELECTOR, "[data-table=alerts] tbody tr")
    check(len(rows) == len(alerts) and f"{alerts[0]['thresholdPercent']:g}%" in rows[0].text, f"alerts shown {[r.text for r in rows]}, API {alerts}")
    for table in ("by-provider", "by-task-type", "by-agent", "by-key", "by-tenant", "alerts"):
        check(driver.find_elements(By.CSS_SELECTOR, f"[data-table={table}]"), f"no {table} table on the spend page")
    for tenant in api("/v1/costs?period=day&by=tenant")["report"]["byTenant"]:
        row = driver.find_element(By.CSS_SELECTOR, f"[data-table=by-tenant] tr[data-line='{tenant['name']}']")
        check(usd(tenant["cost"]) in row.text, f"tenant {tenant['name']}: row '{row.text}'")
    day = next(p for p in costs["budget"]["periods"] if p["period"] == "day")
    check(text(driver, "[data-figure=spent-day]") == usd(day["spent"]),
          f"today's spend shown {text(driver, '[data-figure=spent-day]')} != API {usd(day['spent'])}")
    csv = api("/v1/costs?period=day&format=csv")
    check(csv.splitlines()[0].startswith("period,period_key,section,name,cost_usd"), f"CSV header: {csv.splitlines()[:1]}")
    check(any(line.startswith(f"day,{report['periodKey']},total,total,") for line in csv.splitlines()), f"CSV: {csv}")
    screenshot(driver, "spend")


def check_models(driver):
    open_page(driver, "models")
    models = api("/v1/models?format=fleetd")["models"]
    check(any(m["trafficShare"] for m in models), f"no model has a traffic share: {models}")
    for model in models:
        name = model["status"]["name"]
        row = driver.find_element(By.CSS_SELECTOR, f"tr[data-model='{name}']")
        share = row.find_element(By.CSS_SELECTOR, "[data-figure=share]").text
        check(share == pct(model.get("trafficShare")), f"{name}: share shown {share} != API {pct(model.get('trafficShare'))}")
        quota = row.find_element(By.CSS_SELECTOR, "[data-figure=quota]").text
        check(quota.startswith(pct(model["quota"]["usedFraction"])), f"{name}: quota shown {quota}")
        breaker = model["status"].get("breaker") or {"state": "closed"}
        shown_state = row.find_element(By.CSS_SELECTOR, "[data-figure=breaker]").get_attribute("data-state")
        check(shown_state == breaker["state"], f"{name}: breaker shown {shown_state}, API {breaker}")
        reopens = [e.get_attribute("datetime") for e in row.find_elements(By.CSS_SELECTOR, "[data-figure=reopens]")]
        if breaker["state"] == "open":
            check(breaker["openUntil"] in reopens, f"{name}: reopen times shown {reopens}, API {breaker['openUntil']}")
            check("refusing calls" in row.text, f"{name}: row '{row.text}'")
        # A model without its key says which variable to set; only one switched off in the file says "disabled".
        status = model["status"]
        health = row.find_element(By.CSS_SELECTOR, "[data-figure=health]")
        if status.get("missingAPIKey"):
            check(health.text == f"no key ({status['missingAPIKey']})", f"{name}: health shown '{health.text}', API {status}")
        elif not status["enabled"]:
            check(health.text == "disabled", f"{name}: health shown '{health.text}', API {status}")
        else:
            check(health.text != "disabled" and not health.text.startswith("no key"), f"{name}: health shown '{health.text}', API {status}")
        check((health.get_attribute("title") or None) == status.get("disabledReason"),
              f"{name}: health's title '{health.get_attribute('title')}', API {status.get('disabledReason')}")
    check(any((m["status"].get("breaker") or {}).get("state") == "open" for m in models), "the test's down model has no open breaker")
    keyless = next((m["status"] for m in models if m["status"]["name"] == "keyless"), {})
    check(keyless.get("missingAPIKey") == "DASHBOARD_TEST_KEY" and keyless.get("disabledReason") == "no API key (DASHBOARD_TEST_KEY not set)",
          f"the test's keyless model: {keyless}")
    parked = next((m["status"] for m in models if m["status"]["name"] == "parked"), {})
    check(parked.get("enabled") is False and "missingAPIKey" not in parked and parked.get("disabledReason") == "disabled in the configuration",
          f"the test's parked model: {parked}")
    screenshot(driver, "models")


def flag_setting():
    return api("/v1/flags")["global"].get(FLAG)


def move_slider(driver, value):
    slider = driver.find_element(By.ID, f"flag-{FLAG}-rollout")
    driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));", slider, str(value))


def check_flags(driver):
    open_page(driver, "flags")
    before = flag_setting()
    flags = api("/v1/flags")
    for name, verdict in flags["flags"].items():
        shown = driver.find_element(By.CSS_SELECTOR, f"[data-flag={name}] [data-figure=verdict]").text
        check(shown == ("on" if verdict["enabled"] else "off"), f"{name}: verdict shown {shown}, API {verdict}")
    # Without the token: refused, and nothing changes.
    move_slider(driver, 37)
    refused = wait("the refusal", lambda: driver.find_element(By.CSS_SELECTOR, f"#flag-{FLAG}-result [data-result=refused]"))
    check("401" in refused.text, f"refusal text: {refused.text}")
    check(flag_setting() == before, f"the flag changed without the token: {flag_setting()} (was {before})")
    screenshot(driver, "flags-refused")
    # With the token (typed in, kept in sessionStorage for this tab only).
    # A name beyond Latin-1: a header cannot carry it as it is.
    driver.find_element(By.ID, "operator").send_keys("ci-operator 林")
    driver.find_element(By.ID, "token").send_keys(TOKEN + Keys.ENTER)
    wait("the token to be kept", lambda: driver.execute_script("return sessionStorage.getItem('fleetd.adminToken')") == TOKEN)
    check(driver.execute_script("return localStorage.length") == 0, "something was written to localStorage")
    wait("the flags page to redraw", lambda: not driver.find_elements(By.CSS_SELECTOR, f"#flag-{FLAG}-result [data-result]"))
    move_slider(driver, 37)
    saved = wait("the change to be saved", lambda: driver.find_element(By.CSS_SELECTOR, f"#flag-{FLAG}-result [data-result=ok]"))
    check("37 of 100 buckets" in saved.text, f"saved notice: {saved.text}")
    setting = wait("GET /v1/flags to show 37%", lambda: (flag_setting() or {}).get("rollout", {}).get("percentage") == 37 and flag_setting())
    check(setting["enabled"], f"setting after the slider: {setting}")
    # The keyboard moves the slider too: one step right.
    wait("the page to redraw", lambda: driver.find_element(By.ID, f"flag-{FLAG}-rollout").get_attribute("value") == "37")
    slider = driver.find_element(By.ID, f"flag-{FLAG}-rollout")
    slider.send_keys(Keys.ARROW_RIGHT)
    wait("GET /v1/flags to show 38%", lambda: (flag_setting() or {}).get("rollout", {}).get("percentage") == 38)
    history = api("/v1/flags/history")["changes"]
    check(history and history[0]["flag"] == FLAG and history[0]["after"]["rollout"]["percentage"] == 38, f"history: {history[:2]}")
    check(history[0]["by"] == "admin (ci-operator 林)", f"history's who: {history[0]['by']}")
    open_page(driver, "flags")
    rows = wait("the history table", lambda: driver.find_elements(By.CSS_SELECTOR, "[data-table=flag-history] tbody tr"))
    check(len(rows) == len(history) and "ci-operator" in rows[0].text and FLAG in rows[0].text, f"history rows: {[r.text for r in rows]}")
    screenshot(driver, "flags")
    screenshot(driver, "flags-narrow", width=390)
    # Ticking "Enabled" on a flag that is off (0 buckets) turns it on for everyone, not for 0%.
    off = "advancedCaching"
    check(not api("/v1/flags")["flags"][off]["enabled"], f"{off} should start off")
    open_page(driver, "flags")
    driver.find_element(By.ID, f"flag-{off}-enabled").click()
    wait(f"{off} to be on", lambda: api("/v1/flags")["flags"][off]["enabled"])
    setting = api("/v1/flags")["global"][off]
    check(setting["enabled"] and setting.get("rollout", {"percentage": 100})["percentage"] == 100, f"{off} after ticking: {setting}")
    # At an agent type's scope: the verdict is what that type's tasks get (coder's override turns
    # streaming off), and with no override there the controls start from the global setting.
    open_page(driver, "flags")
    driver.execute_script("const s = document.getElementById('flag-scope'); s.value = 'agentType:coder'; s.dispatchEvent(new Event('change'));")
    wait("coder's streaming verdict", lambda: driver.find_element(By.CSS_SELECTOR, "[data-flag=streaming] [data-figure=verdict]").text == "off")
    check(driver.find_element(By.ID, f"flag-{off}-enabled").is_selected(), f"{off} at coder's scope should start from the global on")
    check(driver.find_elements(By.CSS_SELECTOR, f"[data-flag={off}] [data-figure=inherited]"), f"{off} at coder's scope should say it shows the global setting")
    driver.execute_script("const s = document.getElementById('flag-scope'); s.value = 'global'; s.dispatchEvent(new Event('change'));")


def check_routing(driver):
    open_page(driver, "routing")
    recent = api("/v1/routing/recent")["selections"]
    check(recent, "no recent selections in the API")
    for selection in recent:
        row = driver.find_element(By.CSS_SELECTOR, f"[data-table=selections] tr[data-task='{selection['taskId']}']")
        check(selection["selected"] in row.text and selection["reason"] in row.text, f"selection row '{row.text}' vs {selection}")
    prompt = "Prove that the square root of two is irrational, step by step, then explain why the proof works."
    driver.find_element(By.ID, "explain-text").send_keys(prompt)
    driver.find_element(By.ID, "explain-submit").click()
    shown = wait("the explanation", lambda: driver.find_element(By.CSS_SELECTOR, "#explain-result [data-figure=model]").text)
    expected = api("/v1/route", method="POST", body={"prompt": prompt})["modelName"]
    check(shown == expected, f"explain shows {shown}, POST /v1/route says {expected}")
    screenshot(driver, "routing")


def check_agents(driver):
    open_page(driver, "agents")
    agents = api("/v1/agents")["agents"]
    check(text(driver, "[data-figure=agents]") == str(len(agents)), f"agent count shown {text(driver, '[data-figure=agents]')} != {len(agents)}")
    for agent in agents:
        row = driver.find_element(By.CSS_SELECTOR, f"tr[data-agent='{agent['id']}']")
        completed = row.find_element(By.CSS_SELECTOR, "[data-figure=completed]").text
        check(completed == str(agent["completed"]), f"{agent['id']}: completed shown {completed} != {agent['completed']}")
        check(("busy" if agent.get("currentTask") else "idle") in row.text, f"{agent['id']}: state in '{row.text}'")
    check(sum(a["completed"] for a in agents) > 0, f"no agent completed a task: {agents}")
    busy = [a for a in agents if a.get("currentTask")]
    check(len(busy) == 1, f"the test holds one task open: {agents}")
    row = driver.find_element(By.CSS_SELECTOR, f"tr[data-agent='{busy[0]['id']}']")
    check(busy[0]["currentTask"] in row.text and "busy" in row.text, f"busy agent's row: '{row.text}'")
    check(text(driver, "[data-figure=busy]") == "1", f"busy count shown: {text(driver, '[data-figure=busy]')}")
    screenshot(driver, "agents")


def check_dark_and_narrow(driver):
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    open_page(driver, "overview")
    background = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
    check(background != "rgb(246, 247, 249)", f"dark mode kept the light background {background}")
    screenshot(driver, "overview-dark")
    screenshot(driver, "overview-dark-narrow", width=390)
    overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def check_console(driver):
    for entry in driver.get_log("browser"):
        message = entry.get("message", "")
        # The refused PUT (no token) is expected to log its 401.
        if entry.get("level") == "SEVERE" and "401" not in message:
            raise AssertionError(f"browser console: {message}")


def main():
    os.makedirs(SHOTS, exist_ok=True)
    driver = make_driver()
    try:
        # The read-only pages redraw from their polls while they are read: an element can go stale,
        # or a 5-second bucket roll over between the API's answer and the page's. Those steps are
        # read again (a few times) before they count as failed; the flag changes are not repeated.
        read_only = (check_overview, check_spend, check_models, check_routing, check_agents)
        for step in read_only + (check_flags, check_dark_and_narrow):
            attempts = 4 if step in read_only else 1
            for attempt in range(attempts):
                try:
                    step(driver)
                    break
                except (StaleElementReferenceException, AssertionError) as error:
                    if attempt == attempts - 1:
                        raise
                    print(f"{step.__name__}: read again after {type(error).__name__}: {error}", file=sys.stderr, flush=True)
                    time.sleep(1)
            print("ok", step.__name__, flush=True)
        check_console(driver)
    except Exception:
        try:
            driver.save_screenshot(os.path.join(SHOTS, "failure.png"))
            print("page at failure:", driver.current_url, driver.find_element(By.TAG_NAME, "body").text[:3000], file=sys.stderr)
        except Exception:
            pass
        raise
    finally:
        driver.quit()
    print("ok dashboard")


if __name__ == "__main__":
    main()
