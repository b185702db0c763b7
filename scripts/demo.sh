#!/usr/bin/env bash
# The whole install on this machine, with nothing to configure:
#   - builds sbs; starts a Docker engine (or uses the running one) and builds stand-in images of the stack's
#     services from a debootstrapped Debian, tagged with the names sbs writes (no registry is needed);
#   - starts a local Pebble (Let's Encrypt's test CA) on 127.0.0.1:14000 with its fake DNS;
#   - runs `sbs install` with the tracked answers file examples/demo.yaml under --root /tmp/sbs-demo/root: the
#     stack's nginx serves the ACME challenge on port 5002, the certificate comes from Pebble, the stack runs on
#     ports 5002/5443, and `verify` checks it from outside;
#   - shows the result.
# Run it again to see every step up to date and no container restarted (after a reboot it starts the engine and
# Pebble again). `scripts/demo.sh clean` removes the stack, stops Pebble (and the engine if the demo started it)
# and removes the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=/tmp/sbs-demo
root=$demo/root
env_dir=$demo/pebble
engine_state=$demo/engine

if [ "${1:-}" = clean ]; then
    # The stack lives in the engine's storage, not under $demo: after a reboot no engine runs, but its containers,
    # network and PostgreSQL volume are still there, and a volume left behind stops the next demo at
    # generate-secrets (its password went with $demo). So the engine is started when none runs (and stopped again
    # below, as is one the demo started), and the stack is removed by its compose project name and labels: no
    # compose file is needed, so this also removes a stack whose folder an earlier `clean` removed.
    project=sbs-$(printf '%s' "$root" | sha256sum | cut -c1-8)
    if command -v dockerd >/dev/null 2>&1 && scripts/test/docker-env.sh start "$engine_state"; then
        docker compose -p "$project" down --volumes --remove-orphans || true
        # What compose leaves when the project has no container any more (removed by hand, say).
        docker volume ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker volume rm >/dev/null || true
        docker network ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker network rm >/dev/null || true
        left=$(docker ps -aq --filter "label=com.docker.compose.project=$project"; docker volume ls -q --filter "label=com.docker.compose.project=$project")
        [ -z "$left" ] || { echo "demo: the stack $project could not be removed: $(echo "$left" | tr '\n' ' ')" >&2; clean_failed=1; }
    elif command -v docker >/dev/null 2>&1; then
        echo "demo: no Docker engine could be started: the stack $project (containers and volumes) is left in the engine's storage; run \`scripts/demo.sh clean\` again once an engine runs" >&2
        clean_failed=1
    fi
    scripts/test/pebble-env.sh stop "$env_dir" || true
    scripts/test/docker-env.sh stop "$engine_state" || true
    rm -rf "$demo"
    exit "${clean_failed:-0}"
fi

[ "${SBS_SKIP_SETUP:-0}" = 1 ] || scripts/ci-setup.sh   # the tools (libedit, libcurl, Pebble, Docker, compose …); does nothing when they are there
swift build --product sbs
sbs=$(swift build --show-bin-path)/sbs
# /tmp/sbs-demo is a fixed name in a folder every user can write to: another user could make it first (or a link
# by that name) and receive the demo's secrets and configs. So the demo makes it itself, 0700, and refuses one
# that is a link or is not this user's.
mkdir -m 0700 "$demo" 2>/dev/null || true   # checked below, whoever made it
if [ -L "$demo" ] || [ ! -d "$demo" ] || [ "$(stat -c %u "$demo")" != "$(id -u)" ]; then
    echo "demo: $demo exists but is not this user's own folder ($(stat -c '%U, %F' "$demo")); remove it (ask who made it) and run the demo again" >&2
    exit 1
fi
chmod 0700 "$demo"
scripts/test/docker-env.sh start "$engine_state"
scripts/test/docker-env.sh base-image
scripts/test/stand-in-images.sh build

# Pebble forgets its accounts and makes a new root at every start: start it once, reuse it on later runs.
again=()
if ! curl -fsS --cacert "$env_dir/ca.pem" https://127.0.0.1:14000/dir >/dev/null 2>&1; then
    scripts/test/pebble-env.sh stop "$env_dir" >/dev/null 2>&1 || true
    mkdir -p "$root/var/lib/sbs/webroot"
    PEBBLE_ENV_PORTS="14000 15000 5001 8053 8055 5002 14443" PEBBLE_ENV_WEBROOT_SERVER=0 \
        PEBBLE_ENV_WEBROOT="$root/var/lib/sbs/webroot" scripts/test/pebble-env.sh start "$env_dir" >/dev/null
    # A new CA (after a reboot, say): the account kept under the demo root belongs to the old one and is
    # registered again, and a certificate from the old CA is replaced.
    [ -e "$root/etc/sbs/ssl/live/shop.example.test/fullchain.pem" ] && again=(--from obtain-certificate)
fi

export SBS_DEMO_ANTHROPIC_KEY=${SBS_DEMO_ANTHROPIC_KEY:-sk-ant-demo-placeholder}
set +e
"$sbs" install --answers examples/demo.yaml --non-interactive --root "$root" "${again[@]}"
status=$?
set -e
echo
"$sbs" status --root "$root"
[ $status -eq 0 ] || exit $status

live=$root/etc/sbs/ssl/live/shop.example.test
echo
echo "Site:           https://shop.example.test:5443/ (curl --cacert $env_dir/bundle.pem --resolve shop.example.test:5443:127.0.0.1 …)"
curl -fsS -o /dev/null -w "                %{http_code} from https://shop.example.test:5443/api/health\n" \
    --cacert "$env_dir/bundle.pem" --resolve shop.example.test:5443:127.0.0.1 https://shop.example.test:5443/api/health
echo "Deploy folder:  $root/opt/sbs ($(find "$root/opt/sbs" -type f | wc -l) files)"
echo "Certificate:    $live ($(openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName | tail -1 | sed 's/^ *//'))"
echo "Secrets:        $root/etc/sbs/secrets.env ($(stat -c %a "$root/etc/sbs/secrets.env")); \`$sbs secrets show --root $root\` lists them"
echo "Remove the demo (stack, Pebble, and the engine if the demo started it): scripts/demo.sh clean"
