#!/usr/bin/env bash
# `check && pass … || fail …` below: pass only prints, so fail runs exactly when the check failed.
# shellcheck disable=SC2015
# The README's first command after a reboot, for real (the demo's ports 5002/5443, its Pebble, a real engine):
#   1. scripts/demo.sh: the whole install;
#   2. a reboot (scripts/test/reboot-sim.sh: the engine, Pebble and nginx stopped, the engine's runtime state
#      cleared), then scripts/demo.sh again: the engine brings the stack back with the certificate it had, Pebble
#      starts with a new root, and `sbs install --from obtain-certificate` installs a certificate from it without
#      any configuration change: the running nginx must be made to serve it (verify passes, served serial = live;
#      start-stack reloads nginx, unless nginx started after the certificate was written);
#   3. a reboot again, then scripts/demo.sh clean with no engine running: the stack goes (containers, network and
#      the PostgreSQL volume, by compose project name), the engine clean had to start is stopped, /tmp/sbs-demo
#      goes;
#   4. scripts/demo.sh: a new install from scratch (a volume left by clean would stop it at generate-secrets).
# The reboot stops the Docker engine: it is done only with an engine this run may stop — none, the demo's own, or
# one whose pid file is under a STATE_DIR given as argument (scripts/test.sh passes the one it started) — and with
# no container of another project on it. Otherwise, or when the demo's ports are taken by something else than a
# demo, it is skipped with the reason (a failure when SBS_REQUIRE_INTEGRATION=1, as in CI).
# A demo that is already here (the README's first command run before its second, as a newcomer and CI do) is taken
# over: step 1 is then its second run, and the run ends with the demo installed again, on the demo's own engine,
# as it was found. Without one, the run ends with `scripts/demo.sh clean`.
#
#   scripts/test/demo-reboot.sh [ENGINE_STATE_DIR…]
set -euo pipefail
cd "$(dirname "$0")/../.."
demo=/tmp/sbs-demo
root=$demo/root
project=sbs-$(printf '%s' "$root" | sha256sum | cut -c1-8)
live=$root/etc/sbs/ssl/live/shop.example.test/cert.pem
engine_dirs=("$@")
work=$(mktemp -d /tmp/sbs-demo-reboot.XXXXXX)
started=$(date +%s)
failures=0

say() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "PASS: $*"; }
skip() {
    echo "demo-reboot: $*" >&2
    [ "${SBS_REQUIRE_INTEGRATION:-0}" = 1 ] && exit 1
    echo "demo-reboot: SKIPPED" >&2
    exit 0
}
# The last lines of a log, when a step failed.
show() { echo "--- last lines of $1:" >&2; tail -25 "$1" >&2; }

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }
# True when no engine runs, or the one that runs may be stopped by this run: its pid is in a dockerd.pid under
# one of the given folders or the demo's.
engine_may_stop() {
    engine_answers || return 0
    local pid dir
    pid=$(cat /var/run/docker.pid 2>/dev/null) || return 1
    for dir in "${engine_dirs[@]}" "$demo/engine"; do
        [ "$(cat "$dir/dockerd.pid" 2>/dev/null)" = "$pid" ] && return 0
    done
    return 1
}
# Containers on the engine that are not the demo's.
others() {
    engine_answers || return 0
    docker ps -a --format '{{.Names}} {{.Label "com.docker.compose.project"}}' | awk -v p="$project" '$2 != p { print $1 }' | tr '\n' ' '
}
may_reboot() {
    engine_may_stop || skip "the Docker engine that runs here was not started by this run or the demo: a reboot would stop it for others"
    local other
    other=$(others)
    [ -z "$other" ] || skip "containers of others are on this engine ($other): a reboot would stop them"
}
reboot() {
    may_reboot
    scripts/test/reboot-sim.sh "$demo" "${engine_dirs[@]}"
    ! engine_answers && pass "after the reboot no Docker engine runs" || fail "a Docker engine still answers after the reboot"
}
served_serial() { # the serial of the certificate the demo's nginx presents on 5443
    echo | openssl s_client -connect 127.0.0.1:5443 -servername shop.example.test 2>/dev/null | openssl x509 -noout -serial 2>/dev/null
}
project_leftovers() { # the demo project's containers, volumes and networks on the running engine
    {
        docker ps -aq --filter "label=com.docker.compose.project=$project"
        docker volume ls -q --filter "label=com.docker.compose.project=$project"
        docker network ls -q --filter "label=com.docker.compose.project=$project"
    } | tr '\n' ' '
}

cleanup() {
    local status=$?
    set +e
    if [ "$found" = 0 ]; then
        scripts/demo.sh clean >"$work/final-clean.out" 2>&1 || show "$work/final-clean.out"
    fi
    scripts/test/docker-env.sh stop "$work/engine" >/dev/null 2>&1
    rm -rf "$work"
    echo "demo-reboot: $failures failed checks; $(($(date +%s) - started)) s in all"
    [ "$failures" -eq 0 ] || status=1
    exit "$status"
}

found=0
if [ -e "$demo" ]; then
    # Only this user's own demo folder is taken over (demo.sh refuses any other, and so would step 1).
    [ -d "$demo" ] && [ ! -L "$demo" ] && [ "$(stat -c %u "$demo")" = "$(id -u)" ] \
        || skip "$demo exists and is not this user's demo folder ($(stat -c '%U, %F' "$demo"))"
    found=1
    echo "demo-reboot: $demo is here: it is taken over, and left installed at the end"
else
    # Without a demo, the demo's ports must be free (with one, they are its own: step 1 fails if not).
    port_busy() { ss -Hltn "sport = :$1" | grep -q .; }
    for port in 5002 5443 14000 15000 5001 8053 8055 14443; do
        port_busy "$port" && skip "port $port is in use ($(ss -Hltnp "sport = :$port" | head -1)); the demo needs 5002, 5443 and Pebble's ports"
    done
fi
may_reboot
trap cleanup EXIT

say "1. scripts/demo.sh"
if scripts/demo.sh >"$work/demo1.out" 2>&1; then pass "the demo installs"; else show "$work/demo1.out"; fail "the first demo failed"; exit 1; fi
first_serial=$(openssl x509 -in "$live" -noout -serial)

say "2. a reboot, then scripts/demo.sh: a new CA, a new certificate, the same configuration"
reboot
if scripts/demo.sh >"$work/demo2.out" 2>&1; then pass "the demo after a reboot ends with verify passing"; else show "$work/demo2.out"; fail "the demo after a reboot failed"; fi
grep -q "obtain-certificate: certificate in" "$work/demo2.out" && [ "$(openssl x509 -in "$live" -noout -serial)" != "$first_serial" ] \
    && pass "a new certificate was installed from the new CA" || fail "no new certificate after the reboot"
# The engine brings nginx back when it starts, with the certificate then live; when nginx (re)started only after
# the new certificate was written (it waits for its upstreams' names, under the engine's restart back-off), it
# read that one, and there is nothing to reload. Either way, the served certificate must be the live one (below).
nginx_started=$(docker inspect -f '{{.State.StartedAt}}' \
    "$(docker ps -q --filter "label=com.docker.compose.project=$project" --filter label=com.docker.compose.service=nginx)" 2>/dev/null || true)
if grep -q "start-stack: .*reloading nginx" "$work/demo2.out"; then
    pass "start-stack reloaded nginx"
elif [ -n "$nginx_started" ] && [ "$(date -d "$nginx_started" +%s)" -ge "$(stat -c %Y "$live")" ]; then
    pass "nginx started ($nginx_started) after the new certificate was written: no reload was needed"
else
    fail "start-stack did not reload nginx, which started at ${nginx_started:-an unknown time}, before the certificate: $(grep 'start-stack:' "$work/demo2.out" | tail -3)"
fi
served=$(served_serial)
[ -n "$served" ] && [ "$served" = "$(openssl x509 -in "$live" -noout -serial)" ] && pass "nginx serves the live certificate ($served)" \
    || fail "nginx serves ${served:-nothing}, the live certificate is $(openssl x509 -in "$live" -noout -serial)"

say "3. a reboot, then scripts/demo.sh clean with no engine running"
reboot
if scripts/demo.sh clean >"$work/clean.out" 2>&1; then pass "clean exit 0"; else show "$work/clean.out"; fail "clean failed"; fi
[ ! -e "$demo" ] && pass "$demo is gone" || fail "$demo is still there"
! engine_answers && pass "clean stopped the engine it started" || fail "an engine still runs after clean"
scripts/test/docker-env.sh start "$work/engine" 2>/dev/null
left=$(project_leftovers)
[ -z "$left" ] && pass "no container, volume or network of $project is left in the engine" || fail "clean left $left"
# The demo starts its own engine in step 4, as after a reboot: it outlives this run when the demo was found here.
scripts/test/docker-env.sh stop "$work/engine" >/dev/null 2>&1

say "4. scripts/demo.sh: a new install"
if scripts/demo.sh >"$work/demo3.out" 2>&1; then pass "the demo installs again after clean"; else show "$work/demo3.out"; fail "the demo after clean failed"; fi
