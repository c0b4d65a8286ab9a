# lib-check.sh — the bookkeeping of the system tests that count their checks
# (k8s-e2e, k8s-flows, ovs-export): timestamped log lines, PASS/FAIL counting,
# polling with a deadline, and the final verdict.
#
# Source it from a test script before anything can fail.  A FAIL counts and the
# test goes on; die counts and exits 1 (the test's EXIT trap cleans up);
# check_verdict NAME ends the test with 1 when any check failed.

failures=0
checks=0
t0=$SECONDS

log() { printf '[%3ds] %s\n' $((SECONDS - t0)) "$*"; }
pass() { checks=$((checks + 1)); log "PASS: $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); log "FAIL: $*"; }
die() { failures=$((failures + 1)); log "FAIL: $*"; exit 1; }

# check_tools TOOL...: dies naming the first TOOL that is not installed.
check_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool is not installed"
    done
}

# check_python: exports PYTHON, Debian's interpreter rather than whatever a
# version manager puts first in PATH (the helpers in lib-netns.sh and
# lib-collectors.sh run it); dies without one.
check_python() {
    export PYTHON
    PYTHON=$(command -v /usr/bin/python3 || command -v python3) || die "python3 is not installed"
}

# wait_for SECONDS CMD...: runs CMD every 0.5 s until it succeeds or SECONDS pass.
wait_for() {
    local limit=$((SECONDS + $1))
    shift
    while ! "$@"; do
        [ $SECONDS -ge $limit ] && return 1
        sleep 0.5
    done
}

# show LABEL TEXT: prints up to 12 lines of what a collector holds, after a FAIL.
show() {
    echo "  $1 ($(grep -c . <<<"$2") lines):"
    head -n 12 <<<"$2" | sed 's/^/    /'
}

# check_finish DIR RC [COMMAND...]: the end of a test's cleanup.  When the test
# failed (RC, or a failed check) or EXPORTFLOWS_KEEP_TMP is set, runs COMMAND (to
# show the logs) and keeps the work dir DIR; otherwise removes it.  Then logs
# how long the test took.
check_finish() {
    local dir=$1 rc=$2
    shift 2
    if [ "$rc" != 0 ] || [ $failures != 0 ] || [ -n "${EXPORTFLOWS_KEEP_TMP:-}" ]; then
        [ $# -gt 0 ] && "$@"
        echo "files kept in $dir"
    else
        rm -rf "$dir"
    fi
    log "done in $((SECONDS - t0)) s"
}

# check_verdict NAME: logs how the checks went; exits 1 when any failed.
check_verdict() {
    if [ $failures -gt 0 ]; then
        log "$1: $failures of $checks checks failed"
        exit 1
    fi
    log "$1: all $checks checks passed"
}
