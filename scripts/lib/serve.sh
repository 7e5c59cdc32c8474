# Sourced by the scripts that test a running triage from outside (compat_clients.sh,
# console_browser.sh): a Python venv with what the test needs, the release binary
# serving the shipped English bundle on a free loopback port, and the server's log when
# the test fails. Source it from the repository root.

# py_venv DIR PACKAGE...: DIR holds a venv (made if missing) with the packages.
py_venv() {
    local venv=$1
    shift
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}

# serve_triage LOG: builds and starts `triage serve` on a free port (set in $port),
# stopped when the script exits. One bundle: the tests compare against its own answers.
serve_triage() {
    serve_log=$1
    cargo build --release --quiet --bin triage
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    target/release/triage serve --addr "127.0.0.1:$port" --model models/triage-en-small \
        >"$serve_log" 2>&1 &
    server=$!
    trap stop_triage EXIT
}

stop_triage() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
}

# run_or_show_log COMMAND...: runs the test; on failure prints the server's log, fails.
run_or_show_log() {
    if ! "$@"; then
        echo "--- server log ($serve_log) ---"
        tail -n 40 "$serve_log"
        exit 1
    fi
}
