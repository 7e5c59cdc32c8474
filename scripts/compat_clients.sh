#!/usr/bin/env bash
# Real clients from PyPI against a running triage (README "Compatibility"): makes a venv
# with huggingface_hub and openai, starts `target/release/triage serve` on a free port,
# and runs tests/clients/test_clients.py against it. CI runs it after `cargo test`.
#   scripts/compat_clients.sh            # venv in target/compat-clients-venv (reused)
# Needs python3 with venv (Debian: python3-venv) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/serve.sh
. scripts/lib/serve.sh
venv=${TRIAGE_CLIENTS_VENV:-target/compat-clients-venv}
py_venv "$venv" huggingface_hub openai numpy
"$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null \
    | grep -Ei '^(huggingface.hub|openai|numpy) ' || true
serve_triage target/compat-clients-serve.log
run_or_show_log "$venv/bin/python" tests/clients/test_clients.py "http://127.0.0.1:$port"
