#!/usr/bin/env bash
# The agent console in a real browser (issue 19): headless Chromium driven through
# WebDriver (Debian's chromium + chromium-driver; the driver's path is given explicitly,
# so Selenium Manager downloads nothing) by Python selenium in a venv, against
# `target/release/triage serve` with an API key file. Runs tests/browser/test_console.py:
# sign-in (the key returned as an HttpOnly cookie), the queue, a
# conversation with reasons and suggestions (empathy first), feedback that shows in
# GET /v1/conversations/{id}, a live new turn, markup in a message shown as text, and
# the first load (bytes asserted, time reported) with 1,000 conversations in the store.
#   scripts/console_browser.sh                 # venv in target/console-browser-venv
#   CONSOLE_SCREENSHOT=docs/console.png scripts/console_browser.sh   # also the README's picture
# Needs python3 with venv, chromium, chromium-driver (.ci/run installs them) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/serve.sh
. scripts/lib/serve.sh
venv=${TRIAGE_BROWSER_VENV:-target/console-browser-venv}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
driver=${CHROMEDRIVER:-$(command -v chromedriver || true)}
if [ -z "$chromium" ] || [ -z "$driver" ]; then
    echo "chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)"
    exit 1
fi
py_venv "$venv" 'selenium>=4.10,<5'
# The server has API keys, as a deployed one does: the browser signs in on the console's
# page with an agent key (an HttpOnly cookie comes back) and the test's own calls send it.
cargo build --release --quiet --bin triage
keys=target/console-browser-keys.toml
rm -f "$keys"
key=$(target/release/triage keys add --name browser-agent --role agent --file "$keys" 2>/dev/null)
export TRIAGE_KEYS_FILE=$keys
serve_triage target/console-browser-serve.log
run_or_show_log "$venv/bin/python" tests/browser/test_console.py "http://127.0.0.1:$port" \
    --chromium "$chromium" --driver "$driver" --key "$key" \
    ${CONSOLE_SCREENSHOT:+--screenshot "$CONSOLE_SCREENSHOT"}
