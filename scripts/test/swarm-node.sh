#!/usr/bin/env bash
# A second Docker Swarm node on the same machine, for tests of swarm deployments that span nodes: its own dockerd in
# the network namespace sbs-node2 (hostname sbs-node2), joined as a worker to the swarm of the host's engine over a
# veth pair, sbs-veth0 10.99.0.1/24 (host side) <-> sbs-veth1 10.99.0.2/24 (in the namespace).
#
#   scripts/test/swarm-node.sh host-address           prints 10.99.0.1, the address the host's swarm must advertise
#   scripts/test/swarm-node.sh prepare STATE_DIR      namespace and veth pair, both ends up; run it before
#                                                     `docker swarm init --advertise-addr 10.99.0.1`; safe to repeat
#   scripts/test/swarm-node.sh join STATE_DIR IMAGE…  starts the node's dockerd (data, log and pid file under
#                                                     STATE_DIR/node2, socket unix:///run/sbs-node2.sock), copies each
#                                                     IMAGE from the host's engine into it, joins it as a worker and
#                                                     waits until the manager lists it Ready; prints its node ID last
#   scripts/test/swarm-node.sh stop STATE_DIR         the node leaves, is removed from the manager's node list, its
#                                                     engine, containers, mounts, namespace, veth pair, cgroup and
#                                                     STATE_DIR/node2 are gone; safe to repeat, and after a partial run
#
# join fails unless the host's engine is a swarm manager advertising 10.99.0.1. Nothing here stops, leaves or
# reconfigures the host's engine. SBS_SWARM_HOST_DOCKER (e.g. unix:///run/other.sock) names another engine to stand
# for the host's. Plain overlay networks and host-mode published ports work across the two nodes; encrypted overlays
# do not on a kernel without ESP (IPsec) support. Run as root. Needs iproute2 and util-linux.
set -euo pipefail

ns=sbs-node2
host_if=sbs-veth0
node_if=sbs-veth1
host_addr=10.99.0.1
node_addr=10.99.0.2
sock=/run/sbs-node2.sock

say() { printf '%s\n' "swarm-node: $*" >&2; }
die() { printf '%s\n' "swarm-node: $*" >&2; exit 1; }

# host_docker ARGS…: the docker CLI aimed at the manager's engine.
host_docker() {
    if [ -n "${SBS_SWARM_HOST_DOCKER:-}" ]; then docker -H "$SBS_SWARM_HOST_DOCKER" "$@"; else docker "$@"; fi
}
node_docker() { docker -H "unix://$sock" "$@"; }
node_answers() { [ -S "$sock" ] && timeout 10 docker -H "unix://$sock" version >/dev/null 2>&1; }

need_root() { [ "$(id -u)" = 0 ] || die "run as root"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }

prepare() {
    need_root
    local state=$1 other
    mkdir -p "$state"
    # Another interface holding an address of 10.99.0.0/24 would take the node's traffic.
    other=$(ip -o addr show to "$host_addr/24" | awk -v me="$host_if" '$2 != me { print $2 }' | sort -u)
    [ -z "$other" ] || die "10.99.0.0/24 is already used by $(echo "$other" | tr '\n' ' ')on this host"
    [ -e "/run/netns/$ns" ] || ip netns add "$ns"
    if ! link_exists "$host_if"; then
        ! link_exists "$node_if" || ip link del "$node_if"   # a half-made pair of an interrupted run
        ip -n "$ns" link del "$node_if" 2>/dev/null || true
        ip link add "$host_if" type veth peer name "$node_if" netns "$ns"
    fi
    ip -n "$ns" link show dev "$node_if" >/dev/null 2>&1 \
        || die "$host_if exists but its peer $node_if is not in namespace $ns: run 'swarm-node.sh stop STATE_DIR' first"
    ip addr replace "$host_addr/24" dev "$host_if"
    ip -n "$ns" addr replace "$node_addr/24" dev "$node_if"
    ip link set "$host_if" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$node_if" up
    say "namespace $ns ready: $host_if $host_addr <-> $node_if $node_addr"
}

start_engine() {
    local dir=$1 waited=0 pid
    mkdir -p "$dir/data" "$dir/exec"
    echo '{}' >"$dir/daemon.json" # the node does not read the host's /etc/docker/daemon.json
    say "starting the node's dockerd (log: $dir/dockerd.log)"
    # nsenter --net keeps the host's mount namespace, hence its /sys and cgroups (`ip netns exec` mounts its own
    # /sys); unshare --uts gives the node a hostname of its own. Own data-root and exec-root: own containerd, own
    # swarm state. docker0, docker_gwbridge and iptables rules are the namespace's, not the host's. setsid and the
    # redirections: the engine outlives this script and holds none of the caller's pipes.
    # --no-new-privileges as scripts/test/docker-env.sh starts the host's engine.
    # shellcheck disable=SC2016 # $1 and $@ belong to the inner sh
    setsid nsenter --net="/run/netns/$ns" unshare --uts sh -c 'hostname "$1"; shift; exec dockerd "$@"' sh "$ns" \
        --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$dir/exec" \
        --pidfile "$dir/dockerd.pid" -H "unix://$sock" --cgroup-parent "/$ns" --no-new-privileges \
        >"$dir/dockerd.log" 2>&1 </dev/null &
    pid=$!
    until node_answers; do
        kill -0 "$pid" 2>/dev/null || { tail -20 "$dir/dockerd.log" >&2; die "the node's dockerd exited"; }
        [ $waited -lt 60 ] || { tail -20 "$dir/dockerd.log" >&2; die "the node's dockerd did not answer within 60 s"; }
        sleep 1
        waited=$((waited + 1))
    done
    say "the node's dockerd answers (pid $(cat "$dir/dockerd.pid"))"
}

join() {
    need_root
    local state=$1; shift
    local dir=$state/node2 manager addr image token id waited=0 status
    if [ ! -e "/run/netns/$ns" ] || ! link_exists "$host_if"; then
        die "no namespace $ns or no $host_if: run 'swarm-node.sh prepare STATE_DIR' first"
    fi
    manager=$(host_docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>/dev/null) \
        || die "the host's Docker engine does not answer"
    [ "$manager" = "active true" ] || die "the host's Docker engine is not a swarm manager"
    addr=$(host_docker info --format '{{.Swarm.NodeAddr}}')
    [ "$addr" = "$host_addr" ] \
        || die "the host's swarm advertises $addr, not $host_addr: the manager must run 'docker swarm init --advertise-addr $host_addr'"

    if node_answers; then say "the node's dockerd already runs"; else start_engine "$dir"; fi

    for image in "$@"; do
        if [ "$(node_docker image inspect -f '{{.Id}}' "$image" 2>/dev/null)" = "$(host_docker image inspect -f '{{.Id}}' "$image")" ]; then
            say "$image is already on the node"
            continue
        fi
        say "copying $image to the node"
        host_docker save "$image" | node_docker load >/dev/null
    done

    if [ "$(node_docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; then
        say "the node is already in a swarm"
    else
        token=$(host_docker swarm join-token -q worker)
        timeout 90 docker -H "unix://$sock" swarm join --token "$token" --advertise-addr "$node_addr" "$host_addr:2377" >/dev/null \
            || die "docker swarm join failed (log: $dir/dockerd.log)"
    fi
    id=$(node_docker info --format '{{.Swarm.NodeID}}')
    [ -n "$id" ] || die "the node has no swarm node ID"
    until status=$(host_docker node inspect -f '{{.Status.State}}' "$id" 2>/dev/null) && [ "$status" = ready ]; do
        [ $waited -lt 60 ] || die "the manager does not list node $id as Ready within 60 s (state: ${status:-unknown})"
        sleep 1
        waited=$((waited + 1))
    done
    say "node $id ($ns) is Ready"
    echo "$id"
}

# kill_wait PID SECONDS: TERM, then KILL if it still runs after SECONDS.
kill_wait() {
    local pid=$1 waited=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        if [ $waited -ge $(($2 * 4)) ]; then
            say "pid $pid still runs after $2 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
            return 0
        fi
        sleep 0.25
        waited=$((waited + 1))
    done
}

# mounts_under DIR: mount points below DIR, deepest first.
mounts_under() { awk -v r="$1/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r; }

stop() {
    need_root
    local state=$1 dir=$1/node2 self id name pid cmdline p cg m
    if node_answers; then
        timeout 60 docker -H "unix://$sock" swarm leave --force >/dev/null 2>&1 || true
    fi
    # Every node the manager knows by the hostname sbs-node2 (those of earlier runs too), never the manager itself.
    self=$(host_docker info --format '{{.Swarm.NodeID}}' 2>/dev/null || true)
    host_docker node ls --format '{{.ID}} {{.Hostname}}' 2>/dev/null | while read -r id name; do
        if [ "$name" = "$ns" ] && [ "$id" != "$self" ] && host_docker node rm --force "$id" >/dev/null 2>&1; then
            say "removed node $id from the manager"
        fi
    done || true

    pid=$(cat "$dir/dockerd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/"; then
        say "stopping the node's dockerd (pid $pid)"
        kill_wait "$pid" 20
    fi
    # Leftovers of the node's engine, recognised by STATE_DIR/node2 in their command line (its containerd and shims
    # name its exec-root), then the containers' processes still in its cgroup: each by its pid.
    for p in /proc/[0-9]*; do
        case "$(cat "$p/comm" 2>/dev/null)" in dockerd | containerd | containerd-shim*) ;; *) continue ;; esac
        cmdline=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
        case "$cmdline" in *"$dir/"*) kill_wait "${p#/proc/}" 10 ;; esac
    done
    for cg in /sys/fs/cgroup/"$ns" /sys/fs/cgroup/*/"$ns"; do
        [ -d "$cg" ] || continue
        find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | while read -r p; do
            kill -KILL "$p" 2>/dev/null || true
        done || true
    done
    mounts_under "$dir" | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done || true

    ! link_exists "$host_if" || ip link del "$host_if"
    [ ! -e "/run/netns/$ns" ] || ip netns del "$ns"
    rm -f "$sock"
    for cg in /sys/fs/cgroup/"$ns" /sys/fs/cgroup/*/"$ns"; do
        [ -d "$cg" ] || continue
        # Deepest first; a cgroup that still holds a process stays.
        find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
    [ -z "$(mounts_under "$dir")" ] || die "mounts remain under $dir; not removing it"
    rm -rf --one-file-system "$dir"
    say "stopped; nothing of $ns is left"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 64; }

cmd=${1:-}
[ "$cmd" = host-address ] && { echo "$host_addr"; exit 0; }
[ -n "${2:-}" ] || usage
# One spelling of STATE_DIR in every command line: `stop` recognises the node's processes by it.
state=$(realpath -m "$2")
shift 2
case "$cmd" in
    prepare) prepare "$state" ;;
    join) join "$state" "$@" ;;
    stop) stop "$state" ;;
    *) usage ;;
esac
