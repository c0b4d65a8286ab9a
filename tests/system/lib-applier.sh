# lib-applier.sh — helpers for the system tests of exportflows-applier
# (applier-ovsdb.sh, applier-kube.sh).  Source it after lib-ovs.sh; it runs
# nothing.
#
# The test sets applier_log to the file the applier logs to, and metrics_port to
# the port of its health listener once it is up (applier_metrics_port reads it
# from the log).
#
#   col TABLE COLUMN        COLUMN of the TABLE row br-int points to, "" when none
#   col_is TABLE COLUMN VALUE
#   log_has TEXT, log_count TEXT      in the applier's log
#   metric NAME             a sample of the applier's /metrics, "missing" when absent
#   metric_is NAME VALUE
#   tx_ok                   the sample counting committed transactions

applier_log=
metrics_port=
tx_ok='exportflows_applier_transactions_total{result="ok"}'

col() {
    local ref
    ref=$(ovs_vsctl --if-exists get bridge br-int "$1" 2>/dev/null) || return 0
    [ -n "$ref" ] && [ "$ref" != "[]" ] || return 0
    ovs_vsctl get "$1" "$ref" "$2"
}
col_is() { [ "$(col "$1" "$2")" = "$3" ]; }
log_has() { grep -q -- "$1" "$applier_log"; }
log_count() { grep -c -- "$1" "$applier_log"; }
# The port the applier logged for its health listener ("" before it did).
applier_metrics_port() {
    sed -n 's/.* listening address=[0-9.]*:\([0-9]*\) server=health.*/\1/p' "$applier_log"
}
metric() {
    curl -s --max-time 5 "http://127.0.0.1:$metrics_port/metrics" |
        awk -v n="$1" '$1 == n { print $2; found = 1 } END { if (!found) print "missing" }'
}
metric_is() { [ "$(metric "$1")" = "$2" ]; }
