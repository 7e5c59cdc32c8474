#!/usr/bin/env bash
# Fuzzes triage's input parsers with cargo-fuzz (libFuzzer + AddressSanitizer, nightly):
# every target in fuzz/Cargo.toml, or the one named, for a fixed number of inputs.
#
#   scripts/fuzz.sh                  # every target, 1,000,000 inputs each
#   scripts/fuzz.sh request 200000   # one target, 200,000 inputs
#   scripts/fuzz.sh all 50000        # every target, 50,000 inputs each
#
# Seeds: fuzz/seeds/TARGET (committed) plus, copied at run time, config/policy.toml for
# `policy` and the shipped knowledge-base articles for `kb_article`. The grown corpus is
# fuzz/corpus/TARGET, logs fuzz/logs/TARGET.log, and a crashing (or too slow) input is
# saved as fuzz/artifacts/TARGET/crash-* (timeout-*, oom-*): replay it with
# `cargo +nightly fuzz run --fuzz-dir fuzz TARGET fuzz/artifacts/TARGET/crash-...`.
#
# Prints inputs run, wall time and speed per target; exits non-zero if any target found
# a crash, a timeout (FUZZ_TIMEOUT seconds for one input) or ran out of memory.
# Runs at `nice -n ${FUZZ_NICE:-10}`; extra libFuzzer flags in FUZZ_ARGS.
#
# Speed on the 2-core development machine, shared with builds (inputs/s): kb_article
# ~5000, request and pii ~1600, policy ~1000, normalize ~800: 10^6 inputs take 4-20 min.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(request normalize pii kb_article policy)
which="${1:-all}"
runs="${2:-1000000}"
timeout="${FUZZ_TIMEOUT:-30}"
nice_level="${FUZZ_NICE:-10}"

if [[ "$which" == "all" ]]; then
    selected=("${TARGETS[@]}")
elif [[ " ${TARGETS[*]} " == *" $which "* ]]; then
    selected=("$which")
else
    echo "unknown target $which: expected all or one of ${TARGETS[*]}" >&2
    exit 2
fi
[[ "$runs" =~ ^[0-9]+$ ]] || { echo "the count must be a number: $runs" >&2; exit 2; }

# What the script needs and a clean machine may lack: the nightly toolchain (libFuzzer's
# sanitizer flags are nightly-only) and cargo-fuzz.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

if [[ ${#selected[@]} -eq 1 ]]; then
    nice -n "$nice_level" cargo +nightly fuzz build --fuzz-dir fuzz "$which"
else
    nice -n "$nice_level" cargo +nightly fuzz build --fuzz-dir fuzz
fi

mkdir -p fuzz/logs
failed=()
summary=()
for t in "${selected[@]}"; do
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus" "fuzz/artifacts/$t"
    case "$t" in
        policy) cp config/policy.toml "$corpus/shipped-policy.toml" ;;
        kb_article)
            find config/kb -name '*.md' ! -name README.md | sort | head -n 40 |
                while read -r f; do cp "$f" "$corpus/shipped-$(basename "$f")"; done ;;
    esac
    log="fuzz/logs/$t.log"
    echo "== $t: $runs inputs (log: $log)"
    start=$(date +%s%N)
    set +e
    # shellcheck disable=SC2086
    nice -n "$nice_level" cargo +nightly fuzz run --fuzz-dir fuzz "$t" "$corpus" "fuzz/seeds/$t" -- \
        -runs="$runs" -timeout="$timeout" -rss_limit_mb=4096 -print_final_stats=1 \
        ${FUZZ_ARGS:-} >"$log" 2>&1
    rc=$?
    set -e
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    secs="$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | awk '{print $2}')
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | awk '{print $2}')
    line=$(printf '%-11s inputs %9s  wall %9s s  %6s exec/s  exit %d' \
        "$t" "${execs:-?}" "$secs" "${speed:-?}" "$rc")
    echo "$line"
    summary+=("$line")
    if [[ $rc -ne 0 ]]; then
        failed+=("$t")
        grep -E '^(==[0-9]+==ERROR|thread .* panicked|SUMMARY|artifact_prefix|Test unit written)' "$log" | head -n 20 || true
    fi
done

echo
echo "== summary ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "no crash"
