# lib-ovs.sh — a private ovsdb-server for system tests.  Source it; it runs nothing.
#
# ovs_db_start DIR runs Debian's ovsdb-server on a fresh database made from the
# installed /usr/share/openvswitch/vswitch.ovsschema, with every file it writes
# (conf.db, db.sock, pid, log, control socket) in DIR, and initialises the root
# Open_vSwitch row.  OVS_DB then holds its remote ("unix:DIR/db.sock").
# ovs_db_stop ends it (call it from the test's EXIT trap); ovs_db_restart stops and
# starts it again on the same database, as an upgrade or a crash would.
#
#   . tests/system/lib-ovs.sh
#   dir=$(mktemp -d); trap 'ovs_db_stop; rm -rf "$dir"' EXIT
#   ovs_db_start "$dir" || exit 1
#   ovs_vsctl add-br br-int
#   ovs_wait_for "netflow row" 10 sh -c 'ovs_vsctl ... | grep -q ...'

OVS_SCHEMA=${OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
OVS_DB_DIR=
OVS_DB=

# ovs_db_start DIR: creates DIR/conf.db (unless it exists) and starts ovsdb-server
# on unix:DIR/db.sock; returns when it answers.
ovs_db_start() {
    local dir=$1
    OVS_DB_DIR=$dir
    OVS_DB=unix:$dir/db.sock
    if [ ! -f "$dir/conf.db" ]; then
        ovsdb-tool create "$dir/conf.db" "$OVS_SCHEMA" || return 1
    fi
    OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir ovsdb-server "$dir/conf.db" \
        --remote="punix:$dir/db.sock" --pidfile="$dir/ovsdb-server.pid" \
        --unixctl="$dir/ovsdb-server.ctl" --log-file="$dir/ovsdb-server.log" \
        --detach --no-chdir -vconsole:off -vfile:info 2>>"$dir/ovsdb-server.stderr" || {
        cat "$dir/ovsdb-server.stderr" >&2
        return 1
    }
    ovs_wait_for "ovsdb-server on $OVS_DB" 10 ovs_vsctl show >/dev/null || return 1
    ovs_vsctl init
}

# ovs_db_stop: asks ovsdb-server to exit, then kills it if it does not within 5 s.
# Safe to call when it never started.
ovs_db_stop() {
    local pidfile=$OVS_DB_DIR/ovsdb-server.pid pid i
    [ -n "$OVS_DB_DIR" ] && [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$pidfile"
    return 0
}

# ovs_db_restart: stops ovsdb-server and starts it again on the same database.
ovs_db_restart() {
    ovs_db_stop
    ovs_db_start "$OVS_DB_DIR"
}

# ovs_vsctl ARGS...: ovs-vsctl on the test's database without waiting for
# ovs-vswitchd, with a timeout so a dead server fails the test instead of hanging it.
ovs_vsctl() {
    ovs-vsctl --db="$OVS_DB" --no-wait --timeout=10 "$@"
}

# ovs_wait_for DESCRIPTION SECONDS COMMAND...: runs COMMAND every 0.1 s until it
# succeeds (0) or SECONDS pass (1, with a message on stderr).
ovs_wait_for() {
    local what=$1 secs=$2 deadline
    shift 2
    deadline=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
    while ! "$@"; do
        if [ $(( $(date +%s%N) / 1000000 )) -ge $deadline ]; then
            echo "timed out after ${secs}s waiting for $what" >&2
            return 1
        fi
        sleep 0.1
    done
}
