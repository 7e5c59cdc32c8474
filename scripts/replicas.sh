#!/usr/bin/env bash
# Many replicas, one conversation (issue 18), with real processes:
#   Sentinel: three redis-servers (one primary, two replicas), three Sentinels, three
#   `triage serve` replicas on redis+sentinel://, haproxy round-robin in front
#   (deploy/haproxy.cfg). Runs of 50 concurrent conversations x 10 turns:
#     A  nothing fails (throughput of the three replicas, Redis commands per turn;
#        A1 the same through one replica);
#     B  the Redis primary is killed mid-run: Sentinel fails over, no classify answers
#        5xx, turns during the failover are marked memory_unavailable, none answered
#        without the mark is lost;
#     C  one triage replica is killed mid-run: haproxy routes around it, no stored turn
#        is lost;
#     E  each conversation's 10 turns sent at once, to different replicas: the turn lock
#        lets each in one at a time, every turn is stored once.
#   Cluster: three primaries made with `redis-cli --cluster create`, the same three
#   replicas on redis+cluster://, run D as A.
# Every run reads each conversation back (GET /v1/conversations/{id}): all its turns,
# in order (scripts/replicas_load.py). CI calls this after `cargo test` (.ci/run, which
# installs haproxy). Needs redis-server, redis-cli, haproxy, python3.
#   scripts/replicas.sh                 # ~3-5 minutes on 2 shared cores
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in redis-server redis-cli haproxy python3; do
    command -v "$tool" >/dev/null || { echo "replicas.sh needs $tool"; exit 1; }
done
cargo build --release --quiet --bin triage
bin=target/release/triage
work=$(mktemp -d /tmp/triage-replicas.XXXXXX)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop_all EXIT
fail() {
    echo "FAILED: $*"
    for f in "$work"/*.log; do echo "--- $f"; tail -n 15 "$f"; done
    exit 1
}

REDIS_PORTS=(27101 27102 27103)
SENTINEL_PORTS=(27111 27112 27113)
TRIAGE_PORTS=(27121 27122 27123)
HAPROXY=http://127.0.0.1:27130
# A Cluster node also listens on its port + 10000 (the cluster bus): keep that below
# Linux's ephemeral range (32768 and up), where a client's outgoing connection can hold
# it (CI once failed with "bind: Address already in use" on 37142).
CLUSTER_PORTS=(22141 22142 22143)
declare -A PID_OF

wait_for() { # seconds, command...
    local t=$1; shift
    for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}

http_ok() { # url: 2xx
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1"
}

start_redis() { # port, extra args...
    local port=$1; shift
    mkdir -p "$work/r$port"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$work/r$port" "$@" >"$work/redis-$port.log" 2>&1 &
    pids+=($!); PID_OF[r$port]=$!
    wait_for 10 redis-cli -p "$port" ping || fail "redis $port did not start"
}

# The server config: the shipped file with the memory settings of a replicated store.
# One bundle and one encoder thread per replica: three replicas share two cores.
sed -e 's/^redis_retry_ms = .*/redis_retry_ms = 300/' \
    -e 's/^redis_prefix = .*/redis_prefix = "triage"\nredis_wait_replicas = 1/' \
    config/triage.toml >"$work/sentinel.toml"
sed -e 's/^redis_retry_ms = .*/redis_retry_ms = 300/' config/triage.toml >"$work/cluster.toml"

start_triage() { # index, redis url, config
    local i=$1 port=${TRIAGE_PORTS[$1]}
    "$bin" serve --config "$3" --addr "127.0.0.1:$port" --model models/triage-en-small \
        --threads 1 --redis-url "$2" >"$work/triage-$port.log" 2>&1 &
    pids+=($!); PID_OF[t$i]=$!
}
wait_ready() {
    for port in "${TRIAGE_PORTS[@]}"; do
        wait_for 120 http_ok "http://127.0.0.1:$port/readyz" || fail "replica $port not ready"
    done
}
stop_triage() {
    for i in 0 1 2; do
        kill "${PID_OF[t$i]}" 2>/dev/null || true
        wait "${PID_OF[t$i]}" 2>/dev/null || true
    done
}

# Commands Redis ran for clients, per command, summed over `ports` (commandstats; the
# commands a Lua script calls count too). Sentinel, replication and the script's own
# probes are left out.
commandstats() {
    for port in "$@"; do redis-cli -p "$port" info commandstats 2>/dev/null || true; done |
        python3 -c '
import sys, json, re
skip = {"ping","info","publish","replconf","psync","subscribe","client","config","role",
        "hello","cluster","command","auth","select","readonly","sentinel","slaveof","replicaof"}
out = {}
for line in sys.stdin:
    m = re.match(r"cmdstat_([a-z|]+):calls=(\d+)", line.strip())
    if m and m.group(1).split("|")[0] not in skip:
        out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
print(json.dumps(out))'
}
per_turn() { # before-json after-json turns
    python3 -c '
import json, sys
b, a, n = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
d = {k: round((a[k] - b.get(k, 0)) / n, 2) for k in a if a[k] - b.get(k, 0) > 0}
print(json.dumps({"commands_per_turn": round(sum(d.values()), 2), "by_command": d}))' "$@"
}

load() { # run, extra args...
    local run=$1; shift
    set +e
    python3 scripts/replicas_load.py --url "${LOAD_URL:-$HAPROXY}" --run "$run" "$@" 2>"$work/load-$run.log" |
        tee "$work/load-$run.json"
    local rc=${PIPESTATUS[0]}
    set -e
    cat "$work/load-$run.log"
    return "$rc"
}

primary_port() {
    redis-cli -p "${SENTINEL_PORTS[0]}" sentinel get-master-addr-by-name triage | sed -n 2p
}

echo "== Sentinel: 3 redis-servers, 3 Sentinels, 3 replicas, haproxy"
start_redis "${REDIS_PORTS[0]}"
start_redis "${REDIS_PORTS[1]}" --replicaof 127.0.0.1 "${REDIS_PORTS[0]}"
start_redis "${REDIS_PORTS[2]}" --replicaof 127.0.0.1 "${REDIS_PORTS[0]}"
for port in "${SENTINEL_PORTS[@]}"; do
    cat >"$work/sentinel-$port.conf" <<EOF
port $port
bind 127.0.0.1
dir $work
sentinel monitor triage 127.0.0.1 ${REDIS_PORTS[0]} 2
sentinel down-after-milliseconds triage 1500
sentinel failover-timeout triage 2000
sentinel parallel-syncs triage 2
EOF
    redis-server "$work/sentinel-$port.conf" --sentinel >"$work/sentinel-$port.log" 2>&1 &
    pids+=($!)
done
for port in "${SENTINEL_PORTS[@]}"; do
    wait_for 20 sh -c "redis-cli -p $port sentinel replicas triage | grep -q ${REDIS_PORTS[2]}" ||
        fail "sentinel $port does not see the replicas"
done
# Both replicas synced (WAIT 1 would otherwise time out while they load the first copy).
wait_for 30 sh -c "[ \$(redis-cli -p ${REDIS_PORTS[0]} info replication | grep -c 'state=online') = 2 ]" ||
    fail "the Redis replicas did not sync"
sentinels=$(printf '127.0.0.1:%s,' "${SENTINEL_PORTS[@]}")
sentinel_url="redis+sentinel://${sentinels%,}/triage"
for i in 0 1 2; do start_triage "$i" "$sentinel_url" "$work/sentinel.toml"; done
haproxy -f deploy/haproxy.cfg -db >"$work/haproxy.log" 2>&1 &
pids+=($!)
wait_ready
wait_for 10 http_ok "$HAPROXY/readyz" || fail "haproxy does not answer"

echo "== A: 50 conversations x 10 turns, nothing fails"
before=$(commandstats "${REDIS_PORTS[0]}")
load A || fail "run A"
after=$(commandstats "${REDIS_PORTS[0]}")
per_turn "$before" "$after" 500 | tee "$work/ops-sentinel.json"
echo "== A1: the same on one replica, without haproxy (per-replica figure)"
LOAD_URL=http://127.0.0.1:${TRIAGE_PORTS[0]} load A1 || fail "run A1"

echo "== B: the Redis primary (port ${REDIS_PORTS[0]}) is killed after 100 turns"
# 1.5 s between a conversation's turns: the run outlasts the failover, and every
# conversation's last turn must be kept again (--require-resume).
load B --think 1.5 --require-resume --at "100:kill -9 ${PID_OF[r${REDIS_PORTS[0]}]}" ||
    fail "run B (5xx, lost turns, or memory did not come back)"
new=$(primary_port)
[ "$new" != "${REDIS_PORTS[0]}" ] || fail "Sentinel did not fail over"
echo "Sentinel promoted port $new"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["memory_unavailable"] > 0 else 1)' \
    "$work/load-B.json" || echo "note: no turn fell into the failover window"

echo "== C: triage replica on port ${TRIAGE_PORTS[1]} is killed after 150 turns (new primary $new)"
# 5xx that haproxy could not retry are counted in the JSON; lost or disordered turns fail.
rc=0
load C --think 0.2 --at "150:kill -9 ${PID_OF[t1]}" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 2 ] || fail "run C (lost or disordered turns)"
grep -q "DOWN" "$work/haproxy.log" || echo "note: haproxy logged no DOWN"

echo "== E: 20 conversations whose 10 turns are all sent at once (across the replicas)"
load E --conversations 20 --burst || fail "run E (a turn lost or stored twice)"

stop_triage
echo "== Cluster: 3 primaries (redis-cli --cluster create), 3 replicas, haproxy"
for port in "${CLUSTER_PORTS[@]}"; do
    start_redis "$port" --cluster-enabled yes --cluster-config-file "nodes-$port.conf" \
        --cluster-node-timeout 2000
done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${CLUSTER_PORTS[@]}") \
    --cluster-replicas 0 --cluster-yes >"$work/cluster-create.log" 2>&1 ||
    fail "redis-cli --cluster create"
for port in "${CLUSTER_PORTS[@]}"; do
    wait_for 20 sh -c "redis-cli -p $port cluster info | grep -q cluster_state:ok" ||
        fail "cluster node $port not ok"
done
nodes=$(printf '127.0.0.1:%s,' "${CLUSTER_PORTS[@]}")
for i in 0 1 2; do start_triage "$i" "redis+cluster://${nodes%,}" "$work/cluster.toml"; done
wait_ready
wait_for 20 http_ok "$HAPROXY/readyz" || fail "haproxy does not answer"
echo "== D: 50 conversations x 10 turns on the Cluster"
before=$(commandstats "${CLUSTER_PORTS[@]}")
load D || fail "run D"
after=$(commandstats "${CLUSTER_PORTS[@]}")
per_turn "$before" "$after" 500 | tee "$work/ops-cluster.json"
for port in "${CLUSTER_PORTS[@]}"; do
    echo "node $port keys: $(redis-cli -p "$port" dbsize)"
done
echo "OK: replicas.sh (logs in $work)"
