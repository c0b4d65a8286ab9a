#!/usr/bin/env bash
# include-graph.sh — the modules' include graph has no loop, no module includes
# one of a higher layer, and every module has its folder and its unit test file.
#
# A module is a .c/.h pair named X (src/SUB/X.c, and include/exportflows/SUB/X.h or
# src/SUB/X.h); each program of cmd/ counts as one module.  An edge A -> B is an
# `#include "…/B.h"` in one of A's files.  The folder SUB gives the layer, lowest
# first:
#   0 base       (src/base/) what every subsystem may use
#   1 subsystem  admission, kube, ovs, http: may include base and each other
#                (loops are caught separately)
#   2 programs   cmd/*
# A module outside these folders fails the check, and so does one without its
# unit test file tests/unit/SUB/test_X.c.  Prints each module's layer,
# subsystem and depth (longest include chain below it).
# Needs: python3.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
check_python
cd "$here/../.." || die "no source tree"

"$PYTHON" - <<'EOF'
import glob, os, re, sys

SUBSYSTEMS = ("admission", "kube", "ovs", "http")
NAMES = {0: "base", 1: "subsystem", 2: "programs"}
layer, folder = {}, {}

def module_of(path):
    parts = path.split(os.sep)
    if parts[0] == "cmd":
        return "cmd/" + parts[1]
    return os.path.splitext(parts[-1])[0]

files = [f for pat in ("src/**/*.[ch]", "include/**/*.h", "cmd/**/*.[ch]")
         for f in glob.glob(pat, recursive=True)]
edges = {}
for f in files:
    a = module_of(f)
    edges.setdefault(a, set())
    parts = f.split(os.sep)
    if parts[0] != "cmd":
        sub = parts[-2]
        folder.setdefault(a, set()).add(sub)
        if sub == "base":
            layer[a] = 0
        elif sub in SUBSYSTEMS:
            layer[a] = 1
    for line in open(f, encoding="utf-8"):
        m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
        if not m:
            continue
        inc = m.group(1)
        if f.startswith("cmd/") and "/" not in inc:
            continue        # a program's own header
        b = os.path.splitext(os.path.basename(inc))[0]
        if b != a:
            edges[a].add(b)

bad = 0
for m in sorted(edges):
    if not m.startswith("cmd/") and (m not in layer or len(folder[m]) != 1):
        print(f"FAIL: module {m} is in {' and '.join(sorted(folder[m]))}: its files "
              f"belong in one folder of src/ and include/exportflows/: base or "
              f"{', '.join(SUBSYSTEMS)}")
        bad += 1
    for b in edges[m]:
        if b not in edges:
            print(f"FAIL: {m} includes {b}.h, which is no module's header")
            bad += 1
for m in sorted(edges):
    for sub in sorted(folder.get(m, ())):
        test = f"tests/unit/{sub}/test_{m}.c"
        if not os.path.exists(test):
            print(f"FAIL: module {m} has no unit test file {test}")
            bad += 1
for m in edges:
    if m.startswith("cmd/"):
        layer[m] = 2

for a in sorted(edges):
    for b in sorted(edges[a]):
        if a in layer and b in layer and layer[b] > layer[a]:
            print(f"FAIL: {a} ({NAMES[layer[a]]}) includes {b} ({NAMES[layer[b]]})")
            bad += 1

# Loops: depth-first search, grey = on the current path.
depth, state = {}, {}
def visit(m, path):
    if state.get(m) == "grey":
        loop = path[path.index(m):] + [m]
        print("FAIL: include loop " + " -> ".join(loop))
        return 0, True
    if state.get(m) == "black":
        return depth[m], False
    state[m] = "grey"
    d, looped = 0, False
    for b in sorted(edges.get(m, ())):
        if b in edges:
            bd, bl = visit(b, path + [m])
            d, looped = max(d, bd + 1), looped or bl
    state[m] = "black"
    depth[m] = d
    return d, looped

loops = sum(1 for m in sorted(edges) if visit(m, [])[1])
bad += loops
for m in sorted(edges, key=lambda m: (layer.get(m, 9), depth[m], m)):
    where = "/".join(sorted(folder.get(m, ()))) or "cmd"
    print(f"{NAMES.get(layer.get(m), '?'):9} {where:9} depth {depth[m]:2}  {m}"
          + (f" -> {' '.join(sorted(edges[m]))}" if edges[m] else ""))
print(f"{len(edges)} modules, {sum(len(e) for e in edges.values())} edges, "
      f"{bad} problems")
sys.exit(1 if bad else 0)
EOF
