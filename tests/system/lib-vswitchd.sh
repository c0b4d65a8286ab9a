# lib-vswitchd.sh — a private ovs-vswitchd (userspace datapath) for system tests.
#
# Source it after lib-ovs.sh, which starts the ovsdb-server it talks to.
# vswitchd_start runs ovs-vswitchd inside a network namespace made by the test,
# with every file it writes (pid, log, control and bridge management sockets)
# inside the test's temp dir.  Running it in its own namespace keeps the tap
# devices of the userspace datapath (br-int, ovn-k8s-mp0) off the host, where
# they would clash with a second run and outlive the daemon: OVS makes them
# persistent, and only deleting their namespace removes them for sure.
# vswitchd_stop ends it; the test calls it from its EXIT trap.

VSWITCHD_DIR=
VSWITCHD_DB=

# vswitchd_start DIR DB NETNS: starts ovs-vswitchd on database DB (an OVSDB remote,
# e.g. unix:/tmp/x/db.sock) inside namespace NETNS, with its files in DIR; what it
# prints before detaching goes to DIR/ovs-vswitchd.stderr.
vswitchd_start() {
    local dir=$1 db=$2 ns=$3
    VSWITCHD_DIR=$dir
    VSWITCHD_DB=$db
    # The packaged run dir must exist even though OVS_RUNDIR points elsewhere.
    mkdir -p /var/run/openvswitch || return 1
    OVS_RUNDIR=$dir OVS_LOGDIR=$dir ip netns exec "$ns" ovs-vswitchd "$db" \
        --pidfile="$dir/ovs-vswitchd.pid" --detach --no-chdir \
        --log-file="$dir/ovs-vswitchd.log" -vconsole:off -vfile:info \
        --unixctl="$dir/ovs-vswitchd.ctl" 2>>"$dir/ovs-vswitchd.stderr"
}

# vswitchd_appctl ARGS...: ovs-appctl on the running ovs-vswitchd.
vswitchd_appctl() {
    ovs-appctl -t "$VSWITCHD_DIR/ovs-vswitchd.ctl" "$@"
}

# vswitchd_vsctl ARGS...: ovs-vsctl on the test's database, waiting for
# ovs-vswitchd to apply what it writes, with a timeout so a dead daemon fails
# the test instead of hanging it.
vswitchd_vsctl() {
    ovs-vsctl --db="$VSWITCHD_DB" --timeout=20 "$@"
}

# vswitchd_sync: returns once ovs-vswitchd has applied every database change made
# so far.  ovs-vsctl waits for that after any write it makes; a mark in
# external_ids is a write nothing else looks at.
vswitchd_sync() {
    vswitchd_vsctl set Open_vSwitch . \
        external_ids:exportflows-test-sync="$(date +%s%N)" >/dev/null
}

# vswitchd_running PID: true while PID runs.  A detached daemon that exited stays
# a zombie until init reaps it, which can take seconds in a container; that
# counts as gone.
vswitchd_running() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# vswitchd_stop: asks ovs-vswitchd to exit, then kills it if it does not within
# 5 s.  Safe to call when it never started.
vswitchd_stop() {
    local pidfile=$VSWITCHD_DIR/ovs-vswitchd.pid pid _
    [ -n "$VSWITCHD_DIR" ] && [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        vswitchd_running "$pid" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    return 0
}
