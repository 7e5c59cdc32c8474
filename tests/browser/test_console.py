"""The agent console in headless Chromium, through WebDriver (scripts/console_browser.sh).

Usage: test_console.py BASE_URL --chromium PATH --driver PATH [--key KEY] [--screenshot FILE]

With --key (an agent key of the server's keys file) every HTTP call sends it, and the
browser first signs in through /console/login: the key comes back as an HttpOnly cookie,
which the page's script must not be able to read.

Exits non-zero on the first failed check. Prints the page's first-load size and time
with 1,000 conversations in the store (the size is asserted, the time only reported:
a timed assertion on a shared machine would be flaky)."""

import argparse
import concurrent.futures
import json
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

ROUTINE = "where can I track my order"
ANGRY = "This is ridiculous!! You people are useless, I am furious, my refund STILL has not arrived"
HUMAN = "I want to talk to a real person"
HOSTILE = ('<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> '
           'I want to talk to a real person')
MAX_FIRST_LOAD = 200 * 1024
KEY = None


def call(base, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="POST" if data else "GET")
    if data:
        req.add_header("content-type", "application/json")
    if KEY:
        req.add_header("authorization", "Bearer " + KEY)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def classify(base, text, cid, customer=None):
    body = {"text": text, "conversation_id": cid}
    if customer:
        body["customer"] = customer
    return call(base, "/v1/classify", body)["handoff"]


def wait_ready(base):
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            r = call(base, "/ready")
            if all(m["kb"]["state"] == "ready" for m in r["models"]):
                return
        except (urllib.error.URLError, KeyError, ConnectionError):
            pass
        time.sleep(0.5)
    sys.exit("server not ready with its knowledge base after 300 s")


def check(ok, what):
    if not ok:
        raise AssertionError(what)
    print("ok -", what.split(":")[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--screenshot")
    ap.add_argument("--key")
    a = ap.parse_args()
    global KEY
    KEY = a.key
    base = a.base.rstrip("/")
    wait_ready(base)

    # Three conversations over HTTP: routine, an angry VIP, one asking for a person.
    check(classify(base, ROUTINE, "routine")["action"] == "bot", "routine stays with the bot")
    check(classify(base, ANGRY, "angry-vip", {"id": "u-1", "tier": "vip"})["action"] == "handoff",
          "the angry VIP is handed off")
    check(classify(base, HUMAN, "human")["action"] == "handoff", "asking for a person hands off")

    opts = webdriver.ChromeOptions()
    opts.binary_location = a.chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,760", "--disable-extensions"):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service(executable_path=a.driver), options=opts)
    wait = WebDriverWait(d, 30)
    try:
        d.get(base + "/console")
        if KEY:
            # No cookie yet: the console sends the browser to its sign-in page.
            wait.until(lambda d: d.current_url.endswith("/console/login"))
            d.find_element(By.ID, "key").send_keys(KEY)
            d.find_element(By.CSS_SELECTOR, "#signin button").click()
            wait.until(lambda d: d.current_url.endswith("/console"))
            check("triage_key" not in d.execute_script("return document.cookie"),
                  "signed in with a cookie the page's script cannot read (HttpOnly)")
        d.execute_script("window.__sameDocument = 'yes'")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#queue li.item")) == 2)
        ids = [li.get_attribute("data-id") for li in d.find_elements(By.CSS_SELECTOR, "#queue li.item")]
        check(ids == ["angry-vip", "human"], f"queue shows the two handed off, VIP first: {ids}")
        first = d.find_element(By.CSS_SELECTOR, "#queue li")
        check("VIP" in first.text and ("customer_tier" in first.text or "negative_emotion" in first.text),
              f"the queue entry shows the VIP badge and reason codes: {first.text!r}")

        # Open it with the keyboard: j/k to move, Enter to open.
        body = d.find_element(By.TAG_NAME, "body")
        body.send_keys("j")
        body.send_keys("k")
        body.send_keys(Keys.ENTER)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#turns li.turn"))
        turn = d.find_element(By.CSS_SELECTOR, "#turns li.turn")
        check(ANGRY in turn.text, "the conversation shows the customer's words")
        check("intent:" in turn.text and "sentiment negative" in turn.text, f"intent and emotion shown: {turn.text!r}")
        reasons = [li.text for li in turn.find_elements(By.CSS_SELECTOR, ".reasons li")]
        check(any(r.startswith("negative_emotion") or r.startswith("customer_tier") for r in reasons),
              f"the decision's reasons are shown: {reasons}")
        check("vip" in d.find_element(By.ID, "conv-head").text.lower(), "customer tier shown")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#suggestions li"))
        suggs = d.find_elements(By.CSS_SELECTOR, "#suggestions li")
        types = [s.get_attribute("data-type") for s in suggs]
        check(types[0] == "empathy" and "answer" in types, f"suggestions, the empathy script first: {types}")

        # Accept the first answer (keyboard: its number, then a) and correct the intent.
        answer = types.index("answer")
        sid = suggs[answer].get_attribute("data-id")
        body.send_keys(str(answer + 1))
        body.send_keys("a")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#suggestions li:nth-child({answer + 1}) button.accept.done"))
        picker = Select(d.find_element(By.ID, "intent-picker"))
        current = picker.first_selected_option.get_attribute("value")
        other = next(o.get_attribute("value") for o in picker.options if o.get_attribute("value") != current)
        picker.select_by_value(other)
        d.find_element(By.ID, "correct").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#feedback li")) == 2)
        ctx = call(base, "/v1/conversations/angry-vip")
        fb = ctx["feedback"]
        check(any(f.get("suggestion_id") == sid and f.get("accepted") is True for f in fb),
              f"accepting a suggestion is in GET /v1/conversations/{{id}}: {fb}")
        check(any(f.get("corrected_intent") == other for f in fb), f"the corrected intent is too: {fb}")

        if a.screenshot:
            d.execute_script("document.getElementById('assist-pane').scrollTop = 0")
            d.save_screenshot(a.screenshot)
            print("screenshot:", a.screenshot)

        # Copy to reply.
        body.send_keys("c")
        check(d.find_element(By.ID, "reply").get_attribute("value").strip() != "", "copy-to-reply fills the reply")

        # A new turn appears without a reload.
        classify(base, "and nobody answers my emails either", "angry-vip", {"id": "u-1", "tier": "vip"})
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#turns li.turn")) == 2)
        check(d.execute_script("return window.__sameDocument") == "yes", "the new turn came live, same document")

        # Markup in a message is text: no script runs, no element is made.
        classify(base, HOSTILE, "hostile")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#queue li[data-id="hostile"]'))
        d.find_element(By.CSS_SELECTOR, '#queue li[data-id="hostile"]').click()
        wait.until(lambda d: "<script>" in d.find_element(By.ID, "turns").text)
        time.sleep(0.5)
        check(d.execute_script("return window.__pwned === undefined"), "no script from a message ran")
        check(not d.find_elements(By.CSS_SELECTOR, "#turns img, #turns script, #queue img, #queue script"),
              "no element made from a message")
        check('<img src=x onerror="window.__pwned = 2">' in d.find_element(By.ID, "turns").text,
              "the markup is visible as text")

        # The overview draws its plots.
        body.send_keys("o")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#plot-series svg rect"))
        check("%" in d.find_element(By.ID, "containment").text, "overview: containment and plots")
        body.send_keys("q")

        # 1,000 conversations in the store, then a fresh first load.
        texts = [ROUTINE, ANGRY, HUMAN, "my card was declined", "how do I reset my password"]
        tiers = [None, {"tier": "vip"}, {"tier": "gold"}, None, None]

        def seed(i):
            return classify(base, texts[i % 5], f"load-{i}", tiers[i % 5])

        started = time.time()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(seed, range(1000)))
        print(f"seeded 1,000 conversations in {time.time() - started:.1f} s")
        loads = []
        for _ in range(3):
            d.get("about:blank")
            d.execute_cdp_cmd("Network.clearBrowserCache", {})
            d.get(base + "/console")
            wait.until(lambda d: d.execute_script("return performance.getEntriesByName('console-ready').length") > 0)
            m = d.execute_script("""
                const nav = performance.getEntriesByType('navigation')[0];
                const res = performance.getEntriesByType('resource');
                const bytes = nav.transferSize + res.reduce((a, r) => a + r.transferSize, 0);
                const decoded = nav.decodedBodySize + res.reduce((a, r) => a + r.decodedBodySize, 0);
                return {load: nav.loadEventEnd - nav.startTime,
                        ready: performance.getEntriesByName('console-ready')[0].startTime,
                        bytes, decoded, items: document.querySelectorAll('#queue li.item').length,
                        waiting: Number(document.getElementById('queue-count').textContent),
                        resources: res.map(r => r.name.replace(location.origin, '') + ' ' + r.transferSize)};
            """)
            loads.append(m)
        for m in loads:
            print(f"first load: {m['bytes']} bytes on the wire ({m['decoded']} decoded), load event "
                  f"{m['load']:.0f} ms, queue on screen {m['ready']:.0f} ms; "
                  f"{m['items']} of {m['waiting']} waiting shown; {m['resources']}")
        worst = max(loads, key=lambda m: m["decoded"])
        fetches = [r for r in worst["resources"] if "/console/api/queue" in r]
        check(len(fetches) == 1, f"the queue is fetched once on first load: {fetches}")
        # "Show more" lists the next 50.
        d.find_element(By.ID, "more").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#queue li.item")) == 100)
        check(True, "show more lists the next 50")
        check(worst["waiting"] >= 600, f"the queue holds the seeded handoffs: {worst['waiting']}")
        check(worst["decoded"] < MAX_FIRST_LOAD and worst["bytes"] < MAX_FIRST_LOAD,
              f"first load under 200 KB with 1,000 conversations: {worst['decoded']} bytes")
        best = min(m["ready"] for m in loads)
        print(f"RESULT first load with 1,000 conversations: {worst['decoded']} bytes, queue on screen in "
              f"{best:.0f} ms (best of 3; target < 300 ms)")
    finally:
        d.quit()
    print("console browser test: all checks passed")


if __name__ == "__main__":
    main()
