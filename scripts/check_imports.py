#!/usr/bin/env python3
"""Fails on an import cycle between modules (and checks the crate layering).

The workspace's crates must keep the data path one way (DESIGN.md "Layout"):
triage-core depends on no crate of ours, triage-server and triage-lab only on core,
and the `triage` binary on all three. Cargo already refuses cycles between crates;
this script checks the declared layering and, inside each crate, the modules:

* `#[cfg(test)] mod … { … }` blocks are left out (a unit test may name any sibling);
* every file is a module (`a/b.rs` and `a/b/mod.rs` are `a::b`, `lib.rs`/`main.rs` the root);
* every path a file names (`crate::…`, `super::…`, `self::…`, in `use` lines with their
  `{…}` groups expanded, and inline in code) is resolved to the deepest module it
  reaches, following `pub use child::Name` re-exports of the parent modules;
* an edge between two modules is lifted to the two sibling modules under their lowest
  common ancestor (`eval::report::svg → eval::retrieval` is `report → retrieval`
  inside `eval`); a module naming its own ancestor or descendant is no edge;
* any cycle among siblings fails the check, printed with one example path per edge.

Run from the repository root: `python3 scripts/check_imports.py`. No dependencies.
"""
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = {"triage-core", "triage-server", "triage-lab"}
# crate -> crates of ours it may depend on
ALLOWED = {
    "triage-core": set(),
    "triage-server": {"triage-core"},
    "triage-lab": {"triage-core"},
    "triage": {"triage-core", "triage-server", "triage-lab"},
}


def crates():
    out = {"triage": os.path.join(ROOT, "src")}
    cdir = os.path.join(ROOT, "crates")
    for name in sorted(os.listdir(cdir)):
        if os.path.isfile(os.path.join(cdir, name, "Cargo.toml")):
            out[name] = os.path.join(cdir, name, "src")
    return out


def declared_deps(crate, src):
    toml = open(os.path.join(os.path.dirname(src), "Cargo.toml")).read()
    deps = set()
    section = None
    for line in toml.splitlines():
        m = re.match(r"\s*\[([^\]]+)\]", line)
        if m:
            section = m.group(1)
            continue
        if section in ("dependencies", "dev-dependencies", "build-dependencies"):
            m = re.match(r"\s*([A-Za-z0-9_-]+)\s*[.=]", line)
            if m and m.group(1) in OURS:
                deps.add(m.group(1))
    return deps


def strip(src):
    src = re.sub(r"//[^\n]*", "", src)
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    src = re.sub(r'r#*"(?:.|\n)*?"#*', '""', src)
    src = re.sub(r'"(?:\\.|[^"\\])*"', '""', src)
    return src


def drop_test_modules(src):
    """Removes `#[cfg(test)] mod name { … }`: unit tests may name any sibling."""
    out = ""
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", src)
        if not m:
            return out + src
        depth, i = 1, m.end()
        while i < len(src) and depth:
            depth += {"{": 1, "}": -1}.get(src[i], 0)
            i += 1
        out += src[: m.start()]
        src = src[i:]


def expand(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]"""
    tree = tree.strip()
    i = tree.find("{")
    if i < 0:
        return [re.sub(r"\s+as\s+\w+$", "", tree).strip()]
    prefix, inner = tree[:i], tree[i + 1 : tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p.strip():
            for e in expand(p):
                out.append((prefix + e) if e != "self" else prefix.rstrip(":"))
    return out


def modules(src_dir):
    """module path (tuple) -> file"""
    mods = {}
    for d, _, files in os.walk(src_dir):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(d, f), src_dir)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            # `name.rs` beside `name/` is the same module as `name/mod.rs`
            mods[tuple(rel)] = os.path.join(d, f)
    return mods


def check_crate(crate, src_dir):
    mods = modules(src_dir)
    texts = {m: drop_test_modules(strip(open(f).read())) for m, f in mods.items()}
    # re-exports: (module, Name) -> child module path
    reexport = {}
    for m, t in texts.items():
        for stmt in re.findall(r"pub(?:\([^)]*\))?\s+use\s+([^;]+);", t):
            for path in expand(stmt):
                segs = [s for s in path.split("::") if s]
                if segs and segs[0] == "self":
                    segs = segs[1:]
                if len(segs) >= 2 and (m + (segs[0],)) in mods:
                    reexport[(m, segs[-1])] = m + (segs[0],)

    def resolve(cur, segs):
        if not segs:
            return None
        if segs[0] == "crate":
            base, rest = (), segs[1:]
        elif segs[0] in ("super", "self"):
            base, rest = cur, segs
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    base = base[:-1]
                rest = rest[1:]
        else:
            return None
        m = base
        for s in rest:
            if m + (s,) in mods:
                m = m + (s,)
            elif (m, s) in reexport:
                m = reexport[(m, s)]
                break
            else:
                break
        return m

    edges = defaultdict(dict)  # parent -> {(a, b): example}
    for m, t in texts.items():
        paths = []
        for stmt in re.findall(r"\buse\s+([^;]+);", t):
            paths += expand(stmt)
        paths += re.findall(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", t)
        for p in paths:
            segs = [s for s in p.split("::") if s]
            target = resolve(m, segs)
            if target is None or target == m:
                continue
            n = 0
            while n < min(len(m), len(target)) and m[n] == target[n]:
                n += 1
            if n == len(m) or n == len(target):
                continue  # ancestor or descendant
            parent = m[:n]
            a, b = m[n], target[n]
            edges[parent].setdefault((a, b), f"{mods[m]} -> {'::'.join(target) or 'crate'}")
    cycles = []
    for parent, es in edges.items():
        graph = defaultdict(set)
        for a, b in es:
            graph[a].add(b)
        for cyc, comp in find_cycles(graph):
            name = "::".join((crate.replace("-", "_"),) + parent)
            lines = [f"  {a} -> {b}   ({es[(a, b)]})" for a, b in zip(cyc, cyc[1:] + cyc[:1])]
            cycles.append(
                f"cycle in {name}: {' -> '.join(cyc + cyc[:1])} (strongly connected: {', '.join(comp)})\n"
                + "\n".join(lines)
            )
    return len(mods), sum(len(e) for e in edges.values()), cycles


def find_cycles(graph):
    """One cycle per strongly connected component with more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append((path_in(graph, set(comp)), sorted(comp)))

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            strong(v)
    return out


def path_in(graph, comp):
    start = min(comp)
    prev, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, ())):
            if w not in comp:
                continue
            if w == start:
                cyc = [v]
                while prev[cyc[-1]] is not None:
                    cyc.append(prev[cyc[-1]])
                return cyc[::-1]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return sorted(comp)


def main():
    failed = False
    for crate, src in crates().items():
        deps = declared_deps(crate, src)
        bad = deps - ALLOWED.get(crate, set())
        if bad:
            failed = True
            print(f"{crate}: depends on {', '.join(sorted(bad))} (allowed: {', '.join(sorted(ALLOWED.get(crate, ()))) or 'none of ours'})")
        n_mods, n_edges, cycles = check_crate(crate, src)
        for c in cycles:
            failed = True
            print(c)
        print(f"{crate}: {n_mods} modules, {n_edges} sibling edges, {len(cycles)} cycles; depends on {', '.join(sorted(deps)) or 'no crate of ours'}")
    if failed:
        print("import check FAILED")
        return 1
    print("import check ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
