#!/usr/bin/env bash
# The agent console in a real browser (issue 19): headless Chromium driven through
# WebDriver (Debian's chromium + chromium-driver; the driver's path is given explicitly,
# so Selenium Manager downloads nothing) by Python selenium in a venv, against
# `target/release/triage serve`. Runs tests/browser/test_console.py: the queue, a
# conversation with reasons and suggestions (empathy first), feedback that shows in
# GET /v1/conversations/{id}, a live new turn, markup in a message shown as text, and
# the first load (bytes asserted, time reported) with 1,000 conversations in the store.
#   scripts/console_browser.sh                 # venv in target/console-browser-venv
#   CONSOLE_SCREENSHOT=docs/console.png scripts/console_browser.sh   # also the README's picture
# Needs python3 with venv, chromium, chromium-driver (.ci/run installs them) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${TRIAGE_BROWSER_VENV:-target/console-browser-venv}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
driver=${CHROMEDRIVER:-$(command -v chromedriver || true)}
if [ -z "$chromium" ] || [ -z "$driver" ]; then
    echo "chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)"
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'selenium>=4.10,<5'
cargo build --release --quiet --bin triage
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=target/console-browser-serve.log
target/release/triage serve --addr "127.0.0.1:$port" --model models/triage-en-small >"$log" 2>&1 &
server=$!
stop() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
}
trap stop EXIT
if ! "$venv/bin/python" tests/browser/test_console.py "http://127.0.0.1:$port" \
        --chromium "$chromium" --driver "$driver" ${CONSOLE_SCREENSHOT:+--screenshot "$CONSOLE_SCREENSHOT"}; then
    echo "--- server log ($log) ---"
    tail -n 40 "$log"
    exit 1
fi
