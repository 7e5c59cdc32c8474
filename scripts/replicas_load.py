#!/usr/bin/env python3
"""Load driver of scripts/replicas.sh (standard library only).

N concurrent conversations of T turns each through one address (haproxy in front of the
replicas). Each conversation sends its turns one after another; turn k's text carries
"#k". Optional --at TURNS:COMMAND runs COMMAND (a shell line) once TURNS turns have been
answered, in the background (kill the Redis primary, kill a replica).

Afterwards every conversation is read back with GET /v1/conversations/{id} and checked:

* no classify answered 5xx (retries are counted: --retries, for a replica killed while
  it held a request haproxy could not retry);
* every turn answered without `memory_unavailable` is stored ("none lost");
* the stored turns are in order: their indices increase (a turn whose answer was lost
  with a killed replica may be stored and then sent again: consecutive duplicates are
  reported, not failed).

Prints one JSON line of figures and exits 1 on any failure.
"""

import argparse
import http.client
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse

TEXTS = [
    "where is my order, it has not arrived yet",
    "I want a refund for the broken headphones",
    "how do I change my delivery address",
    "this is the third time I ask, nobody answers!",
    "can I pay with a gift card",
    "my package says delivered but it is not here",
    "please cancel my subscription",
    "the app crashes when I open my account",
    "I was charged twice for the same order",
    "thank you, that solved it",
]


class Client:
    def __init__(self, base, timeout):
        u = urllib.parse.urlparse(base)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn = None

    def request(self, method, path, body=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                headers = {"content-type": "application/json"} if body is not None else {}
                data = json.dumps(body).encode() if body is not None else None
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                payload = r.read()
                if r.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, payload
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--conversations", type=int, default=50)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--run", default="run")
    ap.add_argument("--at", action="append", default=[], help="TURNS:COMMAND")
    ap.add_argument("--retries", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--think", type=float, default=0.0, help="seconds between two turns")
    ap.add_argument(
        "--burst",
        action="store_true",
        help="a conversation's turns are sent all at once (to different replicas): all "
        "must be stored, once each; their order is the order they took the turn lock",
    )
    ap.add_argument(
        "--require-resume",
        action="store_true",
        help="every conversation's last turn must be stored (memory came back)",
    )
    a = ap.parse_args()

    events = []
    for spec in a.at:
        n, cmd = spec.split(":", 1)
        events.append([int(n), cmd, False])
    lock = threading.Lock()
    stats = {"answered": 0, "status": {}, "retried": 0, "marked": 0, "errors": []}
    acked = {}  # conversation -> indices answered 200 without memory_unavailable
    event_threads = []

    def note_answer():
        with lock:
            stats["answered"] += 1
            done = stats["answered"]
            due = [e for e in events if not e[2] and done >= e[0]]
            for e in due:
                e[2] = True
        for e in due:
            print(f"[{a.run}] after {e[0]} turns: {e[1]}", file=sys.stderr, flush=True)
            t = threading.Thread(target=subprocess.run, args=(e[1],), kwargs={"shell": True})
            t.start()
            event_threads.append(t)

    def conversation(c):
        cid = f"{a.run}-c{c:03d}"
        mine = []
        if a.burst:
            ts = [threading.Thread(target=send, args=(c, cid, [k], mine)) for k in range(a.turns)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        else:
            send(c, cid, range(a.turns), mine)
        with lock:
            acked[cid] = sorted(mine)

    def send(c, cid, ks, mine):
        client = Client(a.url, a.timeout)
        for k in ks:
            body = {
                "text": f"#{k} {TEXTS[(c + k) % len(TEXTS)]}",
                "conversation_id": cid,
                "customer": {"id": f"cust-{c % 7}"},
            }
            for attempt in range(a.retries + 1):
                try:
                    status, payload = client.request("POST", "/v1/classify", body)
                except (http.client.HTTPException, OSError) as e:
                    status, payload = 0, str(e).encode()
                with lock:
                    stats["status"][status] = stats["status"].get(status, 0) + 1
                if status == 200:
                    break
                with lock:
                    stats["retried"] += 1
                time.sleep(0.2)
            if status != 200:
                with lock:
                    stats["errors"].append(f"{cid} #{k}: {status} {payload[:200]!r}")
                continue
            r = json.loads(payload)
            codes = [x.get("code") for x in r.get("handoff", {}).get("reasons", [])]
            if "memory_unavailable" in codes:
                with lock:
                    stats["marked"] += 1
            else:
                mine.append(k)
            note_answer()
            if a.think:
                time.sleep(a.think)

    start = time.monotonic()
    threads = [threading.Thread(target=conversation, args=(c,)) for c in range(a.conversations)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    for t in event_threads:
        t.join()

    # Read back: every acknowledged turn stored, stored indices in order.
    client = Client(a.url, a.timeout)
    lost, disorder, dup, stored_total = [], [], 0, 0
    for cid, mine in sorted(acked.items()):
        status, payload = 0, b""
        # Memory may still be coming back (a failover): wait for it, up to 30 s.
        for _ in range(60):
            try:
                status, payload = client.request("GET", f"/v1/conversations/{cid}")
            except (http.client.HTTPException, OSError) as e:
                status, payload = 0, str(e).encode()
            if status in (200, 404):
                break
            time.sleep(0.5)
        if status == 404:
            turns = []
        elif status != 200:
            stats["errors"].append(f"GET {cid}: {status} {payload[:200]!r}")
            continue
        else:
            turns = json.loads(payload)["turns"]
        idx = []
        for t in turns:
            m = re.match(r"#(\d+) ", t.get("text") or "")
            idx.append(int(m.group(1)) if m else -1)
        stored_total += len(idx)
        if a.burst:
            dup += len(idx) - len(set(idx))
            if len(idx) != len(set(idx)):
                disorder.append(f"{cid}: a turn stored twice: {idx}")
        else:
            for i in range(1, len(idx)):
                if idx[i] == idx[i - 1]:
                    dup += 1
                elif idx[i] < idx[i - 1]:
                    disorder.append(f"{cid}: {idx}")
                    break
        missing = sorted(set(mine) - set(idx))
        if missing:
            lost.append(f"{cid}: answered {missing} not stored (stored {idx})")
        if a.require_resume and (a.turns - 1) not in mine:
            lost.append(f"{cid}: memory did not come back: last turn not kept (stored {idx})")

    total = a.conversations * a.turns
    five = sum(n for s, n in stats["status"].items() if s >= 500 or s == 0)
    out = {
        "run": a.run,
        "turns": total,
        "answered": stats["answered"],
        "seconds": round(elapsed, 2),
        "turns_per_s": round(stats["answered"] / elapsed, 1) if elapsed else None,
        "status": {str(k): v for k, v in sorted(stats["status"].items())},
        "retried": stats["retried"],
        "memory_unavailable": stats["marked"],
        "stored": stored_total,
        "duplicates": dup,
        "lost": len(lost),
        "out_of_order": len(disorder),
    }
    print(json.dumps(out), flush=True)
    for line in (stats["errors"] + lost + disorder)[:20]:
        print(f"[{a.run}] {line}", file=sys.stderr)
    ok = not stats["errors"] and not lost and not disorder and stats["answered"] == total
    if not ok:
        print(f"[{a.run}] FAILED", file=sys.stderr)
        sys.exit(1)
    # 5xx answers that a retry fixed: reported in "status"; the caller decides whether
    # the phase allows them (none may come from a Redis failover).
    sys.exit(0 if five == 0 else 2)


if __name__ == "__main__":
    main()
