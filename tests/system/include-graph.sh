#!/usr/bin/env bash
# include-graph.sh — the modules' include graph has no loop, and no module
# includes one of a higher layer.
#
# A module is a .c/.h pair named X (src/X.c, include/exportflows/X.h or src/X.h,
# in any subfolder); each program of cmd/ counts as one module.  An edge A -> B
# is an `#include "…/B.h"` in one of A's files.  Layers, lowest first:
#   0 base       what every subsystem may use
#   1 subsystem  admission, kube, ovs, http: may include base and each other
#                (loops are caught separately)
#   2 programs   cmd/*
# A module missing from the table below fails the check: give it a layer.
# Prints each module's layer and depth (longest include chain below it).
# Needs: python3.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
check_python
cd "$here/../.." || die "no source tree"

"$PYTHON" - <<'EOF'
import glob, os, re, sys

LAYERS = {
    0: """errmsg log clock monowait numparse readfile options metrics jsontext
          goduration capbuf ipport report worker""",
    1: """jsonscan jsonbudget fielderr collector flowspec admission admission_fast
          flowconfig ovsflowsconfig configsource configsource_file manifest
          kube kubeconfig kubewatch watchstream lease kubeevent kubeauth
          configsource_kube publisher summarizer nodesummary uninstall
          ovsdb_session ovsdb_data ovsplan applier nodestatus
          httpserver httpconns httplisten httpmetrics httpwatch tlscreds
          tlspolicy certs""",
}
layer = {m: n for n, names in LAYERS.items() for m in names.split()}
NAMES = {0: "base", 1: "subsystem", 2: "programs"}

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
    if not m.startswith("cmd/") and m not in layer:
        print(f"FAIL: module {m} has no layer: add it to LAYERS in tests/system/include-graph.sh")
        bad += 1
    for b in edges[m]:
        if b not in edges:
            print(f"FAIL: {m} includes {b}.h, which is no module's header")
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
    print(f"{NAMES.get(layer.get(m), '?'):9} depth {depth[m]:2}  {m}"
          + (f" -> {' '.join(sorted(edges[m]))}" if edges[m] else ""))
print(f"{len(edges)} modules, {sum(len(e) for e in edges.values())} edges, "
      f"{bad} problems")
sys.exit(1 if bad else 0)
EOF
