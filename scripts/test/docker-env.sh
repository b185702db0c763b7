#!/usr/bin/env bash
# A Docker engine and a Debian base image for tests, with nothing from a registry:
#
#   scripts/test/docker-env.sh start STATE_DIR   engine running (reuses one that answers `docker info`; otherwise
#                                                installs docker.io if missing, starts dockerd in the background and
#                                                keeps its pid in STATE_DIR/dockerd.pid, its log in STATE_DIR/dockerd.log)
#   scripts/test/docker-env.sh base-image        local/debian:bookworm exists: debootstrap --variant=minbase from the
#                                                machine's Debian mirror, then `docker import`
#   scripts/test/docker-env.sh stop STATE_DIR    stops the engine started by `start` (by its pid), if it started one
#
# The base image is kept between local runs. It is built again when SBS_REBUILD_BASE_IMAGE=1, and under CI (CI=true)
# when it is older than the running engine, so each CI run builds its own while the scripts of one run share it.
# Containers reach the same mirror, so `FROM local/debian:bookworm` + `apt-get install …` builds without a registry.
set -euo pipefail

image=local/debian:bookworm
say() { printf '%s\n' "docker-env: $*" >&2; }
fail() { printf '%s\n' "docker-env: $*" >&2; exit 1; }

ensure_packages() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

start() {
    local state=${1:?usage: docker-env.sh start STATE_DIR}
    mkdir -p "$state"
    if command -v docker >/dev/null 2>&1 && engine_answers; then
        say "using the Docker engine that is already running"
        return 0
    fi
    ensure_packages docker.io iptables
    if engine_answers; then # the package's own service may have started one
        say "using the Docker engine started by the docker.io package"
        return 0
    fi
    # A dockerd of an earlier run that died leaves its pid file behind and refuses to start.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    say "starting dockerd (log: $state/dockerd.log)"
    # setsid: the engine must not share the caller's process group or hold its terminal.
    # --no-new-privileges: every container gets the kernel's no_new_privs bit, as sbs's README asks of an engine that
    # runs a swarm stack (a swarm service cannot ask for it itself; compose services do, and lose nothing).
    setsid dockerd --no-new-privileges >"$state/dockerd.log" 2>&1 </dev/null &
    echo $! >"$state/dockerd.pid"
    local waited=0
    until engine_answers; do
        kill -0 "$(cat "$state/dockerd.pid")" 2>/dev/null || { tail -20 "$state/dockerd.log" >&2; fail "dockerd exited"; }
        [ $waited -lt 60 ] || { tail -20 "$state/dockerd.log" >&2; fail "dockerd did not answer within 60 s"; }
        sleep 1
        waited=$((waited + 1))
    done
    say "Docker engine ready (pid $(cat "$state/dockerd.pid"))"
}

stop() {
    local state=${1:?usage: docker-env.sh stop STATE_DIR}
    [ -f "$state/dockerd.pid" ] || return 0
    local pid
    pid=$(cat "$state/dockerd.pid")
    rm -f "$state/dockerd.pid"
    kill -0 "$pid" 2>/dev/null || return 0
    # After a reboot the pid file names a process that ended with it; its number may belong to another one now.
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || { say "pid $pid is not the dockerd started here any more: nothing to stop"; return 0; }
    say "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ $waited -ge 30 ]; then
            say "dockerd (pid $pid) still running after 30 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

image_is_current() {
    docker image inspect "$image" >/dev/null 2>&1 || return 1
    [ "${SBS_REBUILD_BASE_IMAGE:-0}" = 1 ] && return 1
    if [ "${CI:-}" = true ] && [ -f /var/run/docker.pid ]; then
        local created engine_started
        created=$(date -d "$(docker image inspect -f '{{.Created}}' "$image")" +%s)
        engine_started=$(stat -c %Y /var/run/docker.pid)
        [ "$created" -ge "$engine_started" ] || return 1
    fi
    return 0
}

base_image() {
    engine_answers || fail "no Docker engine answers: run 'docker-env.sh start STATE_DIR' first"
    if image_is_current; then
        say "$image is there"
        return 0
    fi
    ensure_packages debootstrap
    local mirror
    mirror=$(awk '$1 == "URIs:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$mirror" ] || fail "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
    local rootfs
    rootfs=$(mktemp -d /tmp/sbs-debian-rootfs.XXXXXX)
    # shellcheck disable=SC2064 # expand now: the trap must remove this folder
    trap "rm -rf '$rootfs'" EXIT
    say "debootstrap --variant=minbase bookworm from $mirror (a minute or two)"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
        || { tail -20 "$rootfs.log" >&2; fail "debootstrap failed (log: $rootfs.log)"; }
    rm -f "$rootfs.log"
    # Containers use the same mirror as the host.
    echo "deb $mirror bookworm main" >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs/var/cache/apt/archives/"*.deb
    tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
    say "$image built"
}

case "${1:-}" in
    start) start "${2:-}" ;;
    stop) stop "${2:-}" ;;
    base-image) base_image ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 64 ;;
esac
