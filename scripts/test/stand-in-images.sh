#!/usr/bin/env bash
# Stand-in images for the stack's services, built locally (no registry) and tagged with the exact image names the
# installer writes into docker-compose.yml, so `docker compose up` runs the rendered stack without pulling:
#
#   scripts/test/stand-in-images.sh build   builds local/sbs-standin-base (Debian + python3 + busybox without its
#                                           applet links) FROM local/debian:bookworm, then one small image per
#                                           service FROM it; an image whose tag exists with the same context hash
#                                           (label sbs.standin.context) is kept, the ones it replaced (untagged,
#                                           with that label) are removed. One line per image, then the time.
#   scripts/test/stand-in-images.sh list    the tags, one per line: SERVICE TAG
#   scripts/test/stand-in-images.sh tools   SERVICE TAG TOOLS: the health tools the REAL image ships
#   scripts/test/stand-in-images.sh check   each stand-in has exactly those health tools among the probed ones
#                                           (curl, wget, busybox, node, pg_isready, kong, ollama)
#
# Needs a running engine and local/debian:bookworm (scripts/test/docker-env.sh start DIR; docker-env.sh base-image).
# The Dockerfiles and what each stand-in imitates: scripts/test/stand-ins/<service>/.
# SBS_STANDIN_JOBS: builds at a time (default 3; apt downloads overlap with unpacking on 2 cores).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
contexts=$here/stand-ins
base_tag=local/sbs-standin-base
label=sbs.standin.context

# service  tag (the installer's default image)  health tools of the REAL image (of those `check` probes)
table="\
postgres    supabase/postgres:15.1.0.117  pg_isready
gotrue      supabase/gotrue:v2.132.3      wget busybox
kong        kong:2.8.1                    kong wget busybox
api         orchestrator-ai/api:1.0.0     node
web         orchestrator-ai/web:1.0.0     node
nginx       nginx:1.27.3-alpine           wget busybox
ollama      ollama/ollama:0.3.14          ollama
prometheus  prom/prometheus:v2.51.2       wget busybox
alertmanager prom/alertmanager:v0.27.0    wget busybox
node-exporter prom/node-exporter:v1.8.2   wget busybox
postgres-exporter quay.io/prometheuscommunity/postgres-exporter:v0.15.0 wget busybox
blackbox-exporter prom/blackbox-exporter:v0.25.0 wget busybox
grafana     grafana/grafana:10.4.2        curl
pgbouncer   edoburu/pgbouncer:1.23.1      pg_isready wget busybox"
probed="curl wget busybox node pg_isready kong ollama"

say() { printf '%s\n' "stand-in-images: $*" >&2; }
fail() { say "$*"; exit 1; }

# The hash of a build context: every file's path, mode and content, plus what it is built FROM.
context_hash() {
    local dir=$1 parent=$2
    {
        printf 'from %s\n' "$parent"
        (cd "$dir" && find . -type f -printf '%m %p\n' | LC_ALL=C sort)
        (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-16
}

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

image_label() { docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null || true; }
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# build_one NAME TAG DIR PARENT LOG: prints one line; returns non-zero (with the log's tail) on failure.
build_one() {
    local name=$1 tag=$2 dir=$3 parent=$4 log=$5 hash start
    hash=$(context_hash "$dir" "$parent")
    if [ "$(image_label "$tag")" = "$hash" ]; then
        printf '  %-11s %-30s up to date (%s)\n' "$name" "$tag" "$hash"
        return 0
    fi
    start=$EPOCHREALTIME
    # The classic builder: the engine here is Docker 20.10 and the CLI has no buildx; it caches RUN lines, so the
    # two Node stand-ins share their nodejs layer. --force-rm: a failed step leaves no container behind (one would
    # later read as another user's container on the engine, and demo-reboot would refuse to stop the engine).
    if ! DOCKER_BUILDKIT=0 docker build --force-rm --network host --label "$label=$hash" -t "$tag" "$dir" >"$log" 2>&1; then
        tail -20 "$log" >&2
        printf '  %-11s %-30s FAILED (log: %s)\n' "$name" "$tag" "$log"
        return 1
    fi
    printf '  %-11s %-30s built in %.1f s (%s)\n' "$name" "$tag" "$(elapsed "$start")" "$hash"
}

build() {
    timeout 20 docker info >/dev/null 2>&1 || fail "no Docker engine answers: scripts/test/docker-env.sh start DIR"
    docker image inspect local/debian:bookworm >/dev/null 2>&1 || fail "no local/debian:bookworm: scripts/test/docker-env.sh base-image"
    local logs start jobs=${SBS_STANDIN_JOBS:-3} failed=0 name tag _tools pids=() pid
    logs=$(mktemp -d /tmp/sbs-standin-build.XXXXXX)
    start=$EPOCHREALTIME
    echo "stand-in images (logs: $logs):"
    build_one base "$base_tag" "$contexts/base" "local/debian:bookworm $(image_id local/debian:bookworm)" \
        "$logs/base.log" || fail "the shared base image did not build"
    local parent
    parent="$base_tag $(image_id "$base_tag")"
    # api before web: web then finds api's nodejs layer in the cache. Wait for each pid (never a bare `wait`: the
    # caller's shell may have the Docker engine as a background job).
    while read -r name tag _tools; do
        if [ ${#pids[@]} -ge "$jobs" ]; then
            wait "${pids[0]}" || failed=1
            pids=("${pids[@]:1}")
        fi
        if [ "$name" = web ] && [ ${#pids[@]} -gt 0 ]; then
            for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
            pids=()
        fi
        build_one "$name" "$tag" "$contexts/$name" "$parent" "$logs/$name.log" &
        pids+=($!)
    done <<<"$table"
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    [ $failed -eq 0 ] || fail "some stand-in images did not build (logs: $logs)"
    # The stand-ins a rebuild replaced: untagged now, each about 100 MB, many over repeated runs (the install's
    # preflight once refused the disk). Only images with this script's label; one a container still uses stays.
    docker image prune -f --filter "label=$label" >/dev/null
    rm -rf "$logs"
    printf 'stand-in images ready in %.1f s\n' "$(elapsed "$start")"
}

list() {
    local name tag _tools
    while read -r name tag _tools; do printf '%s %s\n' "$name" "$tag"; done <<<"$table"
}

tools() { printf '%s\n' "$table" | awk '{ $1 = $1; print }'; }

check() {
    local name tag want have bad=0
    while read -r name tag want; do
        # shellcheck disable=SC2016 # expanded in the container
        have=$(docker run --rm --entrypoint /bin/sh "$tag" -c \
            'for t in $0; do ! command -v "$t" >/dev/null 2>&1 || printf "%s " "$t"; done' "$probed" 2>&1) \
            || { say "$name ($tag) did not run: $have"; bad=1; continue; }
        have=$(printf '%s\n' "$have" | tr ' ' '\n' | sed '/^$/d' | LC_ALL=C sort | xargs)
        want=$(printf '%s\n' "$want" | tr ' ' '\n' | LC_ALL=C sort | xargs)
        if [ "$have" = "$want" ]; then
            printf '  %-11s %-30s health tools: %s (as the real image)\n' "$name" "$tag" "$have"
        else
            printf '  %-11s %-30s health tools: %s, the real image has: %s\n' "$name" "$tag" "$have" "$want"
            bad=1
        fi
    done <<<"$table"
    [ $bad -eq 0 ] || fail "a stand-in's health tools differ from its real image's"
}

case "${1:-}" in
    build) build ;;
    list) list ;;
    tools) tools ;;
    check) check ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 64 ;;
esac
