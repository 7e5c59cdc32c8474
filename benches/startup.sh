#!/usr/bin/env bash
# Start-up time of `triage serve` with the shipped config (config/triage.toml: both
# bundles, the shipped knowledge base): from process start to the first `/ready` 200,
# and to every bundle's knowledge base serving (`kb.state = "ready"` for all in /ready).
#
#   cargo build --release && benches/startup.sh [COLD_RUNS [WARM_RUNS]]   # default 3 3
#
# Cold runs start with an empty cache directory (as a fresh clone: nothing under
# .cache), so every article is embedded; warm runs reuse the article embeddings the
# previous run left. The cache is a temporary directory (TRIAGE_CACHE_DIR), so the
# checkout's own .cache is left alone. Environment: TRIAGE_BIN (default
# target/release/triage), TIMEOUT_SECS per run (default 120), and anything triage reads,
# e.g. TRIAGE_ISA=avx2 or TRIAGE_ISA=scalar to force a kernel tier. /ready is polled
# with curl every 50 ms on 127.0.0.1 only, on a free port. Every run is bounded by
# TIMEOUT_SECS and the server is stopped (SIGTERM, then SIGKILL) after each.
set -euo pipefail
cd "$(dirname "$0")/.."

COLD=${1:-3}
WARM=${2:-3}
BIN=${TRIAGE_BIN:-target/release/triage}
TIMEOUT_SECS=${TIMEOUT_SECS:-120}
[ -x "$BIN" ] || { echo "no $BIN: run cargo build --release first" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

CACHE=$(mktemp -d "${TMPDIR:-/tmp}/triage-startup.XXXXXX")
LOG="$CACHE/serve.log"
PID=""
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$CACHE"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 20000))
}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# One run (in this shell, so the trap can stop its server): sets READY and KB to the
# seconds until /ready 200 and until every knowledge base serves ("timeout" if not).
one_run() {
    local port start ready="" kb="" body deadline
    port=$(free_port)
    start=$(now)
    TRIAGE_CACHE_DIR="$CACHE/cache" TRIAGE_LOG=${TRIAGE_LOG:-info} \
        "$BIN" serve --addr "127.0.0.1:$port" >"$LOG" 2>&1 &
    PID=$!
    deadline=$(awk -v s="$start" -v t="$TIMEOUT_SECS" 'BEGIN { printf "%d", s + t }')
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if ! kill -0 "$PID" 2>/dev/null; then
            echo "triage serve exited early; its log:" >&2
            tail -20 "$LOG" >&2
            exit 1
        fi
        body=$(curl -s --max-time 1 "http://127.0.0.1:$port/ready" || true)
        if [ -z "$ready" ] && [[ "$body" == *'"status":"ready"'* ]]; then
            ready=$(secs "$start" "$(now)")
        fi
        # Ready, and no bundle's base still indexing or unavailable.
        if [ -n "$ready" ] && [[ "$body" != *'"state":"indexing"'* ]] \
            && [[ "$body" != *'"state":"unavailable"'* ]]; then
            kb=$(secs "$start" "$(now)")
            break
        fi
        sleep 0.05
    done
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
    READY=${ready:-timeout}
    KB=${kb:-timeout}
}

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores," \
    "$(grep -o 'avx512_vnni\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')" \
    "${CPUMASK:+(masked by benches/cpumask to $CPUMASK: the server sees no more)}"
echo "binary: $BIN; TRIAGE_ISA=${TRIAGE_ISA:-auto}; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %4s %10s %10s\n' run n ready_s kb_ready_s
for i in $(seq 1 "$COLD"); do
    rm -rf "$CACHE/cache"
    one_run
    printf '%-6s %4d %10s %10s\n' cold "$i" "$READY" "$KB"
done
for i in $(seq 1 "$WARM"); do
    if [ "$i" = 1 ] && [ "$COLD" = 0 ]; then
        one_run # fill the cache first
    fi
    one_run
    printf '%-6s %4d %10s %10s\n' warm "$i" "$READY" "$KB"
done
grep -h "model loaded and warmed up\|first knowledge-base indexing done" "$LOG" | sed 's/^/last run: /' | cut -c1-200 || true
