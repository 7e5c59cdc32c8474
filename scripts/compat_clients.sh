#!/usr/bin/env bash
# Real clients from PyPI against a running triage (README "Compatibility"): makes a venv
# with huggingface_hub and openai, starts `target/release/triage serve` on a free port,
# and runs tests/clients/test_clients.py against it. CI runs it after `cargo test`.
#   scripts/compat_clients.sh            # venv in target/compat-clients-venv (reused)
# Needs python3 with venv (Debian: python3-venv) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${TRIAGE_CLIENTS_VENV:-target/compat-clients-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    huggingface_hub openai numpy
"$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null \
    | grep -Ei '^(huggingface.hub|openai|numpy) ' || true
cargo build --release --quiet --bin triage
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=target/compat-clients-serve.log
# One bundle: the clients compare against its own /v1/embed and /v1/classify.
target/release/triage serve --addr "127.0.0.1:$port" --model models/triage-en-small >"$log" 2>&1 &
server=$!
stop() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
}
trap stop EXIT
if ! "$venv/bin/python" tests/clients/test_clients.py "http://127.0.0.1:$port"; then
    echo "--- server log ($log) ---"
    tail -n 40 "$log"
    exit 1
fi
