#!/usr/bin/env bash
# readme-help.sh — README.md's copies of `--help` are the programs' own output.
#
# README.md shows the help of exportflows-webhook and exportflows-applier in
# fenced blocks that start with their "Usage: PROGRAM" line; each block must be
# byte for byte what `PROGRAM --help` prints (the webhook's tuning flags are
# generated from the config module's table, so a change there shows up here).
#
# Environment: EXPORTFLOWS_BIN_DIR (default bin).  Exit 0 = pass.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${EXPORTFLOWS_BIN_DIR:-bin}
failed=0

# readme_block PROGRAM: the fenced block of README.md starting "Usage: PROGRAM ".
readme_block() {
    awk -v start="Usage: $1 " '
        /^```/ { if (inside) exit; fence = 1; next }
        fence && index($0, start) == 1 { inside = 1 }
        { fence = 0 }
        inside { print }
    ' README.md
}

for program in exportflows-webhook exportflows-applier; do
    block=$(readme_block "$program")
    if [ -z "$block" ]; then
        echo "readme-help: FAIL: README.md has no block starting 'Usage: $program'" >&2
        failed=1
        continue
    fi
    if ! diff -u <(printf '%s\n' "$block") <(env -u KUBECONFIG "$bin/$program" --help) >&2; then
        echo "readme-help: FAIL: README.md's help of $program differs from --help (above)" >&2
        failed=1
    else
        echo "readme-help: ok: $program --help is README.md's copy" >&2
    fi
done
exit $failed
