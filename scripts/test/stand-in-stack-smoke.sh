#!/usr/bin/env bash
# Smoke test of the stack as sbs renders it, on the stand-in images (scripts/test/stand-in-images.sh):
#   1. a Docker engine (scripts/test/docker-env.sh), the Debian base image, compose v2, the stand-ins;
#   2. `sbs install --non-interactive --root TMP --through obtain-certificate` with self-signed TLS, ports
#      18080/18443 and the optimal profile (Ollama and monitoring: every service);
#   3. every healthcheck calls a tool its REAL image ships (the table of stand-in-images.sh) and every image is a
#      stand-in; `docker compose up -d --wait`; every container healthy; through nginx: https://DOMAIN:18443/,
#      /api/health, /auth/v1/health (200, HSTS), http://DOMAIN:18080/ redirects; Ollama pulls and lists a model;
#   4. a negative: a copy of the deploy folder whose db/roles.sql gives supabase_auth_admin a wrong password
#      leaves app-auth unhealthy (its login to the database fails), so the healthchecks can fail;
#   5. `down -v` for both projects, the temporary root removed; the engine stopped if this script started it.
#
#   scripts/test/stand-in-stack-smoke.sh          SBS=path/to/sbs to skip `swift build --product sbs`
#   SBS_SMOKE_KEEP=1                              keeps the stack and the root for a look (prints how to remove)
set -euo pipefail
cd "$(dirname "$0")/../.."

domain=shop.standin.test
http_port=18080
https_port=18443
state=${SBS_SMOKE_STATE:-/tmp/sbs-standin-smoke-state}
work=$(mktemp -d /tmp/sbs-standin-smoke.XXXXXX)
root=$work/root
deploy=$root/opt/sbs
failures=0
projects=()
started=$EPOCHREALTIME

say() { printf '%s\n' "$*"; }
pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/     /'; failures=$((failures + 1)); }
die() { fail "$@"; exit 1; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f s", b - a }'; }

compose() { # compose PROJECT DIR ARGS…
    local project=$1 dir=$2
    shift 2
    docker compose --project-name "$project" --project-directory "$dir" --file "$dir/docker-compose.yml" "$@"
}

cleanup() {
    local status=$? project
    if [ "${SBS_SMOKE_KEEP:-0}" = 1 ]; then
        say "kept: ${projects[*]:-no project} under $root; remove with: docker compose -p NAME down -v; rm -rf $work"
    else
        for project in "${projects[@]}"; do
            docker compose --project-name "$project" down -v --remove-orphans >/dev/null 2>&1 \
                || say "could not remove compose project $project"
        done
        rm -rf "$work"
        scripts/test/docker-env.sh stop "$state/docker" || true
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. engine, base image, compose, stand-ins -------------------------------------------------------------------
if ! scripts/test/docker-env.sh start "$state/docker" >"$work/docker-env.log" 2>&1 \
    || ! scripts/test/docker-env.sh base-image >>"$work/docker-env.log" 2>&1; then
    die "Docker engine and local/debian:bookworm" "$(tail -20 "$work/docker-env.log")"
fi
if ! docker compose version >/dev/null 2>&1; then
    scripts/test/setup-compose.sh >"$work/compose-setup.log" 2>&1 \
        || die "compose v2 (scripts/test/setup-compose.sh)" "$(tail -20 "$work/compose-setup.log")"
fi
pass "engine $(docker version -f '{{.Server.Version}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /')"
images_started=$EPOCHREALTIME
scripts/test/stand-in-images.sh build || die "stand-in images"
scripts/test/stand-in-images.sh check || die "stand-in health tools"
pass "stand-in images ready and checked ($(elapsed "$images_started"))"

# --- 2. the deploy folder, rendered by sbs --------------------------------------------------------------------------
if [ -z "${SBS:-}" ]; then
    swift build --product sbs >"$work/swift-build.log" 2>&1 || die "swift build --product sbs" "$(tail -20 "$work/swift-build.log")"
    SBS=$(swift build --show-bin-path)/sbs
fi
cat >"$work/answers.yaml" <<EOF
version: 1
mode: production
domain: $domain
aliases: [www.$domain]
admin_email: admin@$domain
profile: optimal
features:
  gpu: false
  monitoring: true
  backups: false
tls:
  mode: self-signed
secrets:
  anthropic_api_key: env:SBS_SMOKE_ANTHROPIC_KEY
ports:
  http: $http_port
  https: $https_port
network:
  public_ip: 127.0.0.1
checks:
  dns: skip
EOF
export SBS_SMOKE_ANTHROPIC_KEY=sk-ant-smoke-placeholder
# start-proxy is not built yet; preflight and ensure-docker are about the host, skipped as in scripts/demo.sh.
if ! "$SBS" install --answers "$work/answers.yaml" --non-interactive --root "$root" --through obtain-certificate \
    --skip preflight --skip ensure-docker --skip start-proxy >"$work/install.log" 2>&1; then
    die "sbs install --through obtain-certificate" "$(tail -30 "$work/install.log")"
fi
if [ ! -f "$deploy/docker-compose.yml" ] || [ ! -f "$deploy/.env" ]; then
    die "deploy folder" "$(find "$root" -maxdepth 4 | head -40)"
fi
project=$(awk '$1 == "name:" { print $2; exit }' "$deploy/docker-compose.yml")
expected="sbs-$(printf '%s' "$root" | sha256sum | cut -c1-8)"
[ "$project" = "$expected" ] || fail "compose project name under --root" "docker-compose.yml names $project, expected $expected"
pass "sbs rendered $deploy ($(find "$deploy" -type f | wc -l) files), project $project, COMPOSE_PROFILES=$(sed -n 's/^COMPOSE_PROFILES=//p' "$deploy/.env")"

# --- 3. the stack up on the stand-ins -----------------------------------------------------------------------------
compose "$project" "$deploy" config --format json >"$work/config.json" 2>"$work/config.err" \
    || die "docker compose config" "$(cat "$work/config.err")"
scripts/test/stand-in-images.sh tools >"$work/tools.txt"
if lint=$(python3 - "$work/config.json" "$work/tools.txt" <<'EOF'
import json, subprocess, sys
config = json.load(open(sys.argv[1]))
tools = {line.split()[1]: set(line.split()[2:]) for line in open(sys.argv[2]) if line.strip()}
problems, seen = [], []
for name, service in sorted(config["services"].items()):
    image = service.get("image", "")
    test = (service.get("healthcheck") or {}).get("test") or []
    if image not in tools:
        problems.append("%s: image %s has no stand-in" % (name, image)); continue
    label = subprocess.run(["docker", "image", "inspect", "-f", '{{index .Config.Labels "sbs.standin.context"}}', image],
                           capture_output=True, text=True).stdout.strip()
    if not label:
        problems.append("%s: %s is not a stand-in image" % (name, image))
    if not test or test[0] not in ("CMD", "CMD-SHELL"):
        problems.append("%s: no exec-form healthcheck (%r)" % (name, test)); continue
    tool = test[1] if test[0] == "CMD" else test[1].split()[0]
    if tool not in tools[image]:
        problems.append("%s: healthcheck runs %s, which %s does not ship (it has: %s)"
                        % (name, tool, image, " ".join(sorted(tools[image]))))
    seen.append("%s:%s" % (name, tool))
print("\n".join(problems) if problems else " ".join(seen))
sys.exit(1 if problems else 0)
EOF
); then
    pass "every healthcheck uses a tool of its real image ($lint)"
else
    fail "healthchecks use tools of the real images" "$lint"
fi

projects+=("$project")
up_started=$EPOCHREALTIME
if compose "$project" "$deploy" up -d --wait --wait-timeout 300 >"$work/up.log" 2>&1; then
    pass "docker compose up -d --wait ($(elapsed "$up_started"))"
else
    fail "docker compose up -d --wait" "$(tail -15 "$work/up.log"; compose "$project" "$deploy" ps -a 2>&1; compose "$project" "$deploy" logs --tail 10 2>&1 | tail -60)"
fi

compose "$project" "$deploy" ps --all --format json >"$work/ps.json"
if states=$(python3 - "$work/ps.json" "$work/config.json" <<'EOF'
import json, sys
text = open(sys.argv[1]).read().strip()
rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line.strip()]
expected = set(json.load(open(sys.argv[2]))["services"])
found = {row["Service"]: "%s/%s" % (row.get("State"), row.get("Health") or "no healthcheck") for row in rows}
print(" ".join("%s=%s" % item for item in sorted(found.items())))
bad = [s for s in expected if found.get(s) != "running/healthy"]
sys.exit(1 if bad else 0)
EOF
); then
    pass "all $(wc -l <"$work/ps.json" | tr -d ' ') containers running and healthy"
else
    fail "every container running and healthy" "$states"
fi

curl_stack() { # curl_stack PATH [curl options…]: prints status and headers to $work/headers, body to $work/body
    local path=$1
    shift
    curl -sS -k --max-time 20 --resolve "$domain:$https_port:127.0.0.1" --resolve "$domain:$http_port:127.0.0.1" \
        -D "$work/headers" -o "$work/body" -w '%{http_code}' "$@" "https://$domain:$https_port$path" 2>&1 || true
}
header() { grep -i "^$1:" "$work/headers" | head -1 | tr -d '\r' | cut -d' ' -f2- || true; }

code=$(curl_stack /)
if [ "$code" = 200 ] && grep -qi '<html' "$work/body" && [ -n "$(header Strict-Transport-Security)" ]; then
    pass "https://$domain:$https_port/ 200 HTML from app-web, HSTS: $(header Strict-Transport-Security)"
else
    fail "https://$domain:$https_port/" "status $code, HSTS '$(header Strict-Transport-Security)'; $(head -c 300 "$work/body" 2>/dev/null)"
fi
code=$(curl_stack /assets/app.js)
if [ "$code" = 200 ] && [ -n "$(header Expires)" ]; then
    pass "/assets/app.js 200 through the static-asset location (Expires: $(header Expires))"
else
    fail "/assets/app.js" "status $code; $(head -c 300 "$work/body" 2>/dev/null)"
fi
code=$(curl_stack /api/health)
if [ "$code" = 200 ] && grep -q '"status":"ok"' "$work/body" && [ -n "$(header Strict-Transport-Security)" ]; then
    pass "/api/health 200 from app-api: $(cat "$work/body")"
else
    fail "/api/health" "status $code; $(head -c 300 "$work/body" 2>/dev/null)"
fi
code=$(curl_stack /auth/v1/health)
if [ "$code" = 200 ] && grep -q '"name": *"GoTrue"' "$work/body" && [ -n "$(header Via)" ] \
    && [ -n "$(header Strict-Transport-Security)" ]; then
    pass "/auth/v1/health 200 from app-auth through app-kong (Via: $(header Via)): $(cat "$work/body")"
else
    fail "/auth/v1/health" "status $code, Via '$(header Via)'; $(head -c 300 "$work/body" 2>/dev/null)"
fi
code=$(curl -sS --max-time 20 --resolve "$domain:$http_port:127.0.0.1" -D "$work/headers" -o /dev/null -w '%{http_code}' \
    "http://$domain:$http_port/some/page?x=1" 2>&1 || true)
if [ "$code" = 301 ] && [ "$(header Location)" = "https://$domain:$https_port/some/page?x=1" ]; then
    pass "http://$domain:$http_port/some/page?x=1 301 to $(header Location)"
else
    fail "HTTP redirects to HTTPS" "status $code, Location '$(header Location)'"
fi

if pull=$(compose "$project" "$deploy" exec -T ollama ollama pull llama3.2:1b 2>&1) \
    && list=$(compose "$project" "$deploy" exec -T ollama ollama list 2>&1) && grep -q '^llama3.2:1b ' <<<"$list"; then
    pass "ollama pull llama3.2:1b, then ollama list: $(sed -n 2p <<<"$list" | tr -s ' ')"
else
    fail "ollama pull and list in the ollama service" "$pull
$list"
fi

# A restart keeps what lives in volumes: the pulled model, the database (initialised once: no second init).
if compose "$project" "$deploy" restart ollama app-db >"$work/restart.log" 2>&1 \
    && compose "$project" "$deploy" up -d --wait --wait-timeout 120 >>"$work/restart.log" 2>&1 \
    && list=$(compose "$project" "$deploy" exec -T ollama ollama list 2>&1) && grep -q '^llama3.2:1b ' <<<"$list" \
    && [ "$(compose "$project" "$deploy" logs app-db 2>&1 | grep -c 'init process complete')" = 1 ]; then
    pass "after a restart of ollama and app-db: the model is still listed, the database was not initialised again"
else
    fail "restart keeps the volumes' data" "$(tail -5 "$work/restart.log"); $list; $(compose "$project" "$deploy" logs app-db 2>&1 | grep -c 'init process complete') inits"
fi

# The bootstrap configuration (NGINX_CONF=bootstrap.conf, before a certificate exists) serves ACME challenges from
# the webroot, where sbs writes them (world-readable: nginx's workers do not run as root); then back to TLS.
webroot=$root/var/lib/sbs/webroot
mkdir -p "$webroot/.well-known/acme-challenge"
chmod 755 "$webroot/.well-known" "$webroot/.well-known/acme-challenge"
printf 'smoke-token.thumbprint' >"$webroot/.well-known/acme-challenge/smoke-token"
chmod 644 "$webroot/.well-known/acme-challenge/smoke-token"
challenge() {
    curl -sS --max-time 20 --resolve "$domain:$http_port:127.0.0.1" -o "$work/body" -w '%{http_code}' \
        "http://$domain:$http_port/.well-known/acme-challenge/smoke-token" 2>&1 || true
}
if NGINX_CONF=bootstrap.conf compose "$project" "$deploy" up -d --no-deps --wait --wait-timeout 60 nginx >"$work/bootstrap.log" 2>&1 \
    && code=$(challenge) && [ "$code" = 200 ] && [ "$(cat "$work/body")" = smoke-token.thumbprint ]; then
    pass "NGINX_CONF=bootstrap.conf: nginx healthy and serves the ACME challenge from the webroot"
else
    fail "bootstrap.conf serves ACME challenges" "status ${code:-?}; $(tail -5 "$work/bootstrap.log"); $(compose "$project" "$deploy" logs --tail 5 nginx 2>&1)"
fi
if compose "$project" "$deploy" up -d --no-deps --wait --wait-timeout 60 nginx >>"$work/bootstrap.log" 2>&1 \
    && [ "$(curl_stack /)" = 200 ] && code=$(challenge) && [ "$code" = 200 ]; then
    pass "back to nginx.conf: HTTPS 200 again, and the challenge still served over HTTP"
else
    fail "back to nginx.conf" "$(tail -5 "$work/bootstrap.log")"
fi

# --- 4. negative: a wrong supabase_auth_admin password leaves app-auth unhealthy ---------------------------------
negative=$work/deploy-wrong-password
cp -a "$deploy" "$negative"
sed -i 's/^ALTER USER supabase_auth_admin WITH PASSWORD .*/ALTER USER supabase_auth_admin WITH PASSWORD '"'not-the-env-password'"';/' \
    "$negative/db/roles.sql"
if grep -q "not-the-env-password" "$negative/db/roles.sql"; then
    negative_project=$project-wrong-password
    projects+=("$negative_project")
    neg_started=$EPOCHREALTIME
    if compose "$negative_project" "$negative" up -d --wait --wait-timeout 45 app-auth >"$work/up-negative.log" 2>&1; then
        fail "app-auth with a wrong supabase_auth_admin password must not become healthy" \
            "$(tail -5 "$work/up-negative.log"; grep -i supabase_auth_admin "$negative/db/roles.sql"; compose "$negative_project" "$negative" logs 2>&1 | grep -v 'GET /health' | tail -30)"
    else
        auth_state=$(docker inspect -f '{{.State.Health.Status}}' "$(compose "$negative_project" "$negative" ps -q app-auth)" 2>&1 || true)
        db_state=$(docker inspect -f '{{.State.Health.Status}}' "$(compose "$negative_project" "$negative" ps -q app-db)" 2>&1 || true)
        auth_log=$(compose "$negative_project" "$negative" logs app-auth 2>&1 | grep -m1 'password authentication failed' || true)
        if [ "$auth_state" != healthy ] && [ "$db_state" = healthy ] && [ -n "$auth_log" ]; then
            pass "wrong supabase_auth_admin password: up --wait fails after $(elapsed "$neg_started"), app-db $db_state, app-auth $auth_state, its log: ${auth_log##*failed, retrying in 1 s: }"
        else
            fail "wrong supabase_auth_admin password" "app-db $db_state, app-auth $auth_state, log '$auth_log'"
        fi
    fi
else
    fail "negative test setup: roles.sql has no 'ALTER USER supabase_auth_admin WITH PASSWORD' line to change"
fi

# --- 5. down ------------------------------------------------------------------------------------------------------
if [ "${SBS_SMOKE_KEEP:-0}" != 1 ]; then
    for p in "${projects[@]}"; do docker compose --project-name "$p" down -v --remove-orphans >/dev/null 2>&1 || fail "down -v $p"; done
    left=$(docker ps -a --filter "label=com.docker.compose.project=$project" -q; docker volume ls -q --filter "label=com.docker.compose.project=$project")
    if [ -z "$left" ]; then pass "down -v removed the containers and volumes of $project"; else fail "down -v left" "$left"; fi
    projects=()
fi

say "stand-in stack smoke test: $failures failure(s) in $(elapsed "$started")"
[ $failures -eq 0 ]
