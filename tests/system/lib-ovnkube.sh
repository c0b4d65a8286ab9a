# lib-ovnkube.sh — an ovnkube-node stand-in for system tests and benchmarks.
# Source it after lib-ovs.sh; it runs nothing by itself.
#
# ovnkube_start replays what ovnkube-node does to a bridge's flow export when it
# starts, as ovn-kubernetes' go-controller/pkg/node/default_node_network_controller.go
# does it (setupOVNNode: clearOVSFlowTargets, then setOVSFlowTargets), once, with
# the same ovs-vsctl transactions and the same columns:
#   1. one transaction clearing br-int's netflow, sflow and ipfix, whatever
#      wrote them;
#   2. one create-and-set transaction per configured protocol:
#        netflow: targets, active_timeout=60
#        sflow:   agent=ovn-k8s-mp0, targets (header, sampling, polling: OVS's)
#        ipfix:   targets, cache_active_timeout=N (60 unless given),
#                 cache_max_flows and sampling only when given and not 0
#      with no external_ids, and every ":PORT" target turned into the node's IP
#      (an IPv6 one in brackets).
# ovnkube-node never writes these columns again while it runs: every restart
# (a network operator roll after an edit, a node reboot, a crash) does it anew.
#
#   ovnkube_start DB NODE_IP NETFLOW SFLOW IPFIX
#       DB: the node's OVSDB remote; NETFLOW, SFLOW, IPFIX: comma-separated
#       collectors as in the Network's spec ("" = off).  The IPFIX settings the
#       network operator merges from ovs-flows-config come from
#       OVNKUBE_IPFIX_SAMPLING, OVNKUBE_IPFIX_CACHE_MAX_FLOWS and
#       OVNKUBE_IPFIX_CACHE_ACTIVE_TIMEOUT (unset: none, none, 60).
#   ovnkube_rows DB
#       the rows br-int's netflow, sflow and ipfix point to, one line each
#       ("netflow {...}" or "netflow -"), with every column but _uuid, _version
#       and external_ids, sets sorted: equal lines mean equal rows, whoever
#       wrote them.
#   ovnkube_row_uuids DB
#       "NETFLOW SFLOW IPFIX": the uuids of those rows ("-" when empty).
#
# Needs ovs-vsctl, ovsdb-client and python3 ($PYTHON, else python3).

# shellcheck shell=bash

OVNKUBE_BRIDGE=br-int

# ovnkube_targets NODE_IP LIST: LIST as ovs-vsctl's set syntax, ["A","B"], with
# ":PORT" made NODE_IP:PORT.
ovnkube_targets() {
    local ip=$1 list=$2 out="" t
    local -a items
    case "$ip" in *:*) ip="[$ip]" ;; esac
    IFS=, read -r -a items <<<"$list"
    for t in "${items[@]}"; do
        case "$t" in :*) t="$ip$t" ;; esac
        out="$out${out:+,}\"$t\""
    done
    printf '[%s]' "$out"
}

ovnkube_start() {
    local db=$1 ip=$2 netflow=$3 sflow=$4 ipfix=$5 br=$OVNKUBE_BRIDGE
    local cols=()
    OVS_DB=$db ovs_vsctl -- clear bridge "$br" netflow -- clear bridge "$br" sflow \
        -- clear bridge "$br" ipfix || return 1
    if [ -n "$netflow" ]; then
        OVS_DB=$db ovs_vsctl -- --id=@netflow create netflow \
            targets="$(ovnkube_targets "$ip" "$netflow")" active_timeout=60 \
            -- set bridge "$br" netflow=@netflow >/dev/null || return 1
    fi
    if [ -n "$sflow" ]; then
        OVS_DB=$db ovs_vsctl -- --id=@sflow create sflow agent=ovn-k8s-mp0 \
            targets="$(ovnkube_targets "$ip" "$sflow")" \
            -- set bridge "$br" sflow=@sflow >/dev/null || return 1
    fi
    if [ -n "$ipfix" ]; then
        cols=(cache_active_timeout="${OVNKUBE_IPFIX_CACHE_ACTIVE_TIMEOUT:-60}")
        [ "${OVNKUBE_IPFIX_CACHE_MAX_FLOWS:-0}" != 0 ] &&
            cols+=(cache_max_flows="$OVNKUBE_IPFIX_CACHE_MAX_FLOWS")
        [ "${OVNKUBE_IPFIX_SAMPLING:-0}" != 0 ] &&
            cols+=(sampling="$OVNKUBE_IPFIX_SAMPLING")
        OVS_DB=$db ovs_vsctl -- --id=@ipfix create ipfix \
            targets="$(ovnkube_targets "$ip" "$ipfix")" "${cols[@]}" \
            -- set bridge "$br" ipfix=@ipfix >/dev/null || return 1
    fi
}

# ovnkube_dump DB MODE: what ovnkube_rows (MODE rows) or ovnkube_row_uuids
# (MODE uuids) print, from one consistent read of the four tables.
ovnkube_dump() {
    ovsdb-client --timeout=10 transact "$1" '["Open_vSwitch",
        {"op": "select", "table": "Bridge", "where": [["name", "==", "'"$OVNKUBE_BRIDGE"'"]],
         "columns": ["netflow", "sflow", "ipfix"]},
        {"op": "select", "table": "NetFlow", "where": []},
        {"op": "select", "table": "sFlow", "where": []},
        {"op": "select", "table": "IPFIX", "where": []}]' |
        "${PYTHON:-python3}" -c '
import json, sys
res = json.load(sys.stdin)
mode = sys.argv[1]

def canon(v):
    # Sets and maps sorted, so that equal rows print equal lines.
    if isinstance(v, list) and v and v[0] in ("set", "map"):
        return [v[0], sorted((canon(x) for x in v[1]), key=json.dumps)]
    return v

br = res[0]["rows"][0]
tables = [{row["_uuid"][1]: row for row in r["rows"]} for r in res[1:4]]
out = []
for col, table in zip(("netflow", "sflow", "ipfix"), tables):
    ref = br[col]
    uuid = ref[1] if ref[0] == "uuid" else None
    if mode == "uuids":
        out.append(uuid or "-")
        continue
    if uuid is None:
        print(col, "-")
        continue
    row = {k: canon(v) for k, v in table[uuid].items()
           if k not in ("_uuid", "_version", "external_ids")}
    print(col, json.dumps(row, sort_keys=True, separators=(",", ":")))
if mode == "uuids":
    print(" ".join(out))
' "$2"
}

ovnkube_rows() { ovnkube_dump "$1" rows; }
ovnkube_row_uuids() { ovnkube_dump "$1" uuids; }
