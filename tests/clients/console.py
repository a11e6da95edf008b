"""Drives pier's console (`/console`) in the system's headless Chromium with Playwright,
as a person would, and prints what it saw as JSON (the Rust test asserts on it).

    console.py BASE_URL PLUGIN_DIR NEW_HELLO [--screenshots DIR] [--traffic SECONDS]
    console.py login BASE_URL TOKEN

BASE_URL is pier's `http://127.0.0.1:PORT`; PLUGIN_DIR the directory it watches, with
the example plugins; NEW_HELLO a second version of `hello.wasm`, copied over it to
see the swap appear live. `login` opens the console of a pier that asks for a token,
gives a wrong one, then TOKEN. With --screenshots, each page is saved as a PNG in DIR;
with --traffic, tools are called for SECONDS before the charts are shown (`make
screenshots` does, so that the charts have something to show).
"""

import json
import shutil
import sys
import threading
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

# The console's page forbids evaluating strings (its Content-Security-Policy): waits
# go through locators, never `wait_for_function`.

# Chromium as root needs --no-sandbox; the rest keeps it from calling home (there is
# no network beyond loopback here, and nothing should be fetched from outside).
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000


def live_rows(page, kind):
    """The text of every live row of `kind`, cell by cell."""
    return page.eval_on_selector_all(
        f'#live tbody tr[data-kind="{kind}"]',
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))",
    )


def call_tool(page, name, fields, answered):
    """Opens tool `name` in the catalogue, fills its required `fields` (by label) and
    calls it; returns its block once `answered` (a selector in it) shows."""
    tool = page.locator(f'details.tool[data-tool="{name}"]')
    tool.locator("> summary").click()
    for field, value in fields.items():
        tool.get_by_label(f"{field} (required)").fill(value)
    tool.get_by_role("button", name=f"Call {name}").click()
    expect(tool.locator(answered)).to_have_count(1)
    return tool


def traffic(base, seconds):
    """Calls a few tools through the console's API for `seconds`, at a varying pace."""
    calls = [
        ("calc_add", {"a": 2, "b": 3}),
        ("calc_divide", {"a": 1, "b": 0}),
        ("hello_greet", {"name": "pier"}),
        ("notes_list", {}),
    ]
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        name, arguments = calls[n % len(calls)]
        body = json.dumps({"name": name, "arguments": arguments}).encode()
        request = urllib.request.Request(
            f"{base}/console/api/call", body, {"content-type": "application/json"}
        )
        urllib.request.urlopen(request).read()
        n += 1
        time.sleep(0.02 + 0.08 * ((n // 40) % 3))


def login(base, token):
    """The console of a pier that wants a token: what it shows before and after."""
    seen = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{base}/console")
        form = page.locator("#login")
        expect(form).to_be_visible()
        seen["asked"] = form.locator("h2").text_content()
        seen["main_hidden"] = page.locator("#main").is_hidden()
        seen["focused"] = page.evaluate("document.activeElement.id")
        page.keyboard.type("wrong")
        page.keyboard.press("Enter")
        expect(page.locator("#login-error")).not_to_have_text("")
        seen["wrong"] = page.locator("#login-error").text_content()
        page.fill("#token", token)
        page.keyboard.press("Enter")
        page.wait_for_selector("#mounts-table tbody tr[data-mount]")
        seen["mounts"] = page.eval_on_selector_all(
            "#mounts-table tbody tr[data-mount]", "rows => rows.map(r => r.dataset.mount)"
        )
        browser.close()
    print(json.dumps(seen))


def main():
    if sys.argv[1] == "login":
        return login(sys.argv[2], sys.argv[3])
    base, plugins, new_hello = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    shots = None
    if "--screenshots" in sys.argv:
        shots = Path(sys.argv[sys.argv.index("--screenshots") + 1])
        shots.mkdir(parents=True, exist_ok=True)
    load = None
    if "--traffic" in sys.argv:
        seconds = float(sys.argv[sys.argv.index("--traffic") + 1])
        load = threading.Thread(target=traffic, args=(base, seconds))
    seen = {"outside_requests": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(WAIT_MS)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request",
            lambda r: r.url.startswith(base)
            or r.url.startswith("data:")
            or seen["outside_requests"].append(r.url),
        )
        page.goto(f"{base}/console")

        # Mounts: every example mount, its state as a word.
        page.wait_for_selector("#mounts-table tbody tr")
        seen["mounts"] = page.eval_on_selector_all(
            "#mounts-table tbody tr",
            "rows => rows.map(r => [r.dataset.mount, r.cells[1].textContent])",
        )
        seen["title"] = page.title()
        # A mount opened from its link: what it may reach and its limits.
        page.click('#mounts-table tr[data-mount="fetch"] th a')
        expect(page.locator("#mount-fetch")).to_have_attribute("open", "")
        seen["fetch_facts"] = dict(
            zip(
                page.locator("#mount-fetch dt").all_text_contents(),
                page.locator("#mount-fetch dd").all_text_contents(),
            )
        )
        if shots:
            page.screenshot(path=shots / "console-mounts.png", full_page=True)
        page.goto(f"{base}/console")
        page.wait_for_selector("#mounts-table tbody tr")

        # Keyboard: the skip link first, then the pages; Enter opens one and moves
        # the focus to its heading.
        page.keyboard.press("Tab")
        seen["first_tab"] = page.evaluate("document.activeElement.textContent")
        for _ in range(3):
            page.keyboard.press("Tab")
        seen["third_page_link"] = page.evaluate("document.activeElement.textContent.trim()")
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{base}/console#live")
        seen["focus_after_enter"] = page.evaluate("document.activeElement.id")
        expect(page.locator("#live-state")).to_have_text("● connected")

        # Catalogue: calc_add through the form generated from its schema.
        page.click('nav a[data-page="catalogue"]')
        tool = call_tool(page, "calc_add", {"a": "2", "b": "3"}, ".result pre.text")
        seen["calc_add_fields"] = tool.locator("form.call label").all_text_contents()
        seen["calc_add_result"] = tool.locator(".result pre.text").text_content()
        seen["calc_add_outcome"] = tool.locator(".result .outcome").text_content()
        seen["calc_add_structured"] = json.loads(tool.locator(".result pre.structured").text_content())
        if shots:
            page.screenshot(path=shots / "console-catalogue.png", full_page=False)

        # Log messages and progress, shown as they arrive, then the result.
        countdown = call_tool(page, "calc_countdown", {"from": "2"}, ".result pre.text")
        seen["countdown_logs"] = countdown.locator("ol.logs li").all_text_contents()
        seen["countdown_progress"] = countdown.locator(".progress").text_content()
        seen["countdown_result"] = countdown.locator(".result pre.text").text_content()

        # A refused outbound request: fetch may reach https://* only.
        fetch = call_tool(page, "fetch_fetch", {"url": "http://example.com/"}, ".result .outcome")
        seen["fetch_outcome"] = fetch.locator(".result .outcome").text_content()
        seen["fetch_text"] = fetch.locator(".result pre.text").first.text_content()

        # Live: the calls, the refused egress, and a swap as the file is replaced.
        page.click('nav a[data-page="live"]')
        shutil.copyfile(new_hello, plugins / ".hello.wasm.tmp")
        (plugins / ".hello.wasm.tmp").replace(plugins / "hello.wasm")
        page.wait_for_selector('#live tbody tr[data-kind="change"][data-outcome="swapped"]')
        page.wait_for_selector('#live tbody tr[data-kind="egress"]')
        seen["live_changes"] = live_rows(page, "change")
        seen["live_egress"] = live_rows(page, "egress")
        seen["live_calls"] = live_rows(page, "call")
        if shots:
            page.screenshot(path=shots / "console-live.png", full_page=False)

        # The catalogue follows the swap: hello's new tools are listed.
        page.click('nav a[data-page="catalogue"]')
        page.wait_for_selector('details.tool[data-mount="hello"]')
        seen["hello_tools_after_swap"] = page.eval_on_selector_all(
            'details.tool[data-mount="hello"]', "ds => ds.map(d => d.dataset.tool)"
        )

        # Metrics: a chart per mount that was called, once two readings were taken.
        if load:
            load.start()
            load.join()
        deadline = time.time() + 30
        page.click('nav a[data-page="metrics"]')
        while time.time() < deadline:
            if page.locator('#charts .chart[data-mount="calc"]').count() and page.locator('#charts .chart[data-mount="fetch"]').count():
                break
            page.wait_for_timeout(1000)
            page.evaluate("location.hash = '#mounts'")
            page.evaluate("location.hash = '#metrics'")
        seen["charts"] = page.eval_on_selector_all(
            "#charts .chart", "cs => cs.map(c => c.dataset.mount)"
        )
        seen["chart_labels"] = page.eval_on_selector_all(
            '#charts .chart[data-mount="calc"] svg', "ss => ss.map(s => s.getAttribute('aria-label'))"
        )
        if shots:
            page.screenshot(path=shots / "console-metrics.png", full_page=False)

        # Mounts again: calc's calls are counted.
        page.click('nav a[data-page="mounts"]')
        expect(page.locator('#mounts-table tr[data-mount="calc"] td:nth-child(7)')).not_to_have_text("0")
        seen["calc_calls"] = page.text_content('#mounts-table tr[data-mount="calc"] td:nth-child(7)')
        seen["errors"] = errors

        # A phone: nothing wider than the screen but the tables' own scrolling.
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone.set_default_timeout(WAIT_MS)
        phone.goto(f"{base}/console#catalogue")
        phone.wait_for_selector('details.tool[data-tool="calc_add"]')
        seen["phone_overflow"] = phone.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        seen["phone_nav_visible"] = phone.locator('nav a[data-page="live"]').is_visible()
        if shots:
            phone.screenshot(path=shots / "console-phone.png", full_page=False)
        browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
