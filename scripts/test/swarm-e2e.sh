#!/usr/bin/env bash
# `check && pass … || fail …` below: pass only prints, so fail runs exactly when the check failed.
# shellcheck disable=SC2015
# The install with `target: swarm`, end to end, on the local Docker engine (scripts/test/stack/swarm.yaml):
#   1. sbs makes the engine a swarm manager (docker swarm init, the placement labels), makes the Docker secrets
#      from secrets.env and deploys the stack: verify passes; no .env is written and no secret value is in any
#      service's settings; `sbs status` lists each service's tasks;
#   2. app-api runs two tasks and both answer through nginx (two container ids); they reach app-db through
#      PgBouncer (app-pooler): app-db sees their logins come from the pooler's address;
#   3. `sbs install` again changes nothing: the same containers run;
#   4. an API image that never turns healthy: the swarm rolls the update back by itself, sbs exits 1 saying so,
#      the site answers all along, and the next install with the good image changes nothing; `sbs backup --check`
#      dumps the database from app-db's task into restic and restores it on trial;
#   5. a second Docker engine in a network namespace (scripts/test/swarm-node.sh) joins as a worker, app-web is
#      placed on it and the site is served from there through nginx (plain overlay networks between nodes);
#   6. `sbs uninstall --purge`: the stack, its secrets, configs and volumes are gone.
# The engine stays a (single-node) swarm manager at the end: leaving a swarm makes Docker 20.10's embedded DNS stop
# answering in the running containers of the engine's compose projects (seen here: the demo's nginx then answers
# 502 until the engine restarts), and an idle swarm costs nothing. An engine that is already in a swarm is used as
# it is; step 5 then needs it to advertise 10.99.0.1 and is skipped with the reason otherwise. Ports 6080 or 6443 in
# use: skipped with the reason (a failure when SBS_REQUIRE_INTEGRATION=1, as in CI).
#
#   scripts/test/swarm-e2e.sh clean   removes what an earlier run killed half-way left behind
set -euo pipefail
cd "$(dirname "$0")/../.."
work=/tmp/sbs-swarm-e2e
root=$work/root
engine_state=$work.engine
node_state=$work/node
answers=scripts/test/stack/swarm.yaml
started=$(date +%s)
failures=0

say() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "PASS: $*"; }

project=sbs-$(printf '%s' "$root" | sha256sum | cut -c1-8)
# The stack's services, secrets, configs, networks and volumes, by its name: no file is needed.
remove_stack() {
    docker info >/dev/null 2>&1 || return 0
    docker stack rm "$project" >/dev/null 2>&1 || true
    local waited=0
    while [ -n "$(docker ps -aq --filter "label=com.docker.stack.namespace=$project")$(docker network ls -q --filter "label=com.docker.stack.namespace=$project")" ] \
        && [ $waited -lt 60 ]; do
        sleep 1
        waited=$((waited + 1))
    done
    docker secret ls --format '{{.Name}}' 2>/dev/null | grep "^${project}_" | xargs -r docker secret rm >/dev/null 2>&1 || true
    docker config ls --format '{{.Name}}' 2>/dev/null | grep "^${project}_" | xargs -r docker config rm >/dev/null 2>&1 || true
    docker volume ls -q --filter "label=com.docker.stack.namespace=$project" | xargs -r docker volume rm >/dev/null 2>&1 || true
}
clean_leftovers() {
    scripts/test/swarm-node.sh stop "$node_state" >/dev/null 2>&1 || true
    remove_stack
    rm -rf "$work"
}
if [ "${1:-}" = clean ]; then
    clean_leftovers
    exit 0
fi

[ "${SBS_SKIP_SETUP:-0}" = 1 ] || scripts/ci-setup.sh
swift build --product sbs
sbs=$(swift build --show-bin-path)/sbs
export SBS_E2E_ANTHROPIC_KEY=sk-ant-e2e-placeholder-0001

cleanup() {
    local status=$?
    set +e
    [ -n "${load_pid:-}" ] && kill "$load_pid" 2>/dev/null
    scripts/test/swarm-node.sh stop "$node_state" >/dev/null 2>&1
    remove_stack
    rm -rf "$work"
    scripts/test/docker-env.sh stop "$engine_state" >/dev/null 2>&1
    echo "swarm-e2e: $((failures)) failed checks; $(($(date +%s) - started)) s in all"
    [ "$failures" -eq 0 ] || status=1
    exit "$status"
}
trap cleanup EXIT
say "Docker engine and stand-in images"
scripts/test/docker-env.sh start "$engine_state"
clean_leftovers
for port in 6080 6443; do
    if ss -Hltn "sport = :$port" | grep -q .; then
        echo "swarm-e2e: port $port is in use on this machine ($(ss -Hltnp "sport = :$port" | head -1))" >&2
        [ "${SBS_REQUIRE_INTEGRATION:-0}" = 1 ] && exit 1
        echo "swarm-e2e: SKIPPED" >&2
        exit 0
    fi
done
mkdir -p "$work"
scripts/test/docker-env.sh base-image
scripts/test/stand-in-images.sh build
swarm_state=$(docker info --format '{{.Swarm.LocalNodeState}}')
if [ "$swarm_state" = inactive ] \
    || [ "$(docker info --format '{{.Swarm.NodeAddr}}')" = "$(scripts/test/swarm-node.sh host-address)" ]; then
    # The address sbs's answers advertise (10.99.0.1) must exist before `docker swarm init`, and for a worker.
    scripts/test/swarm-node.sh prepare "$node_state"
fi

say "1. sbs install with target: swarm"
"$sbs" install --answers "$answers" --non-interactive --root "$root" >"$work/install.out" 2>&1 \
    && pass "the swarm install passes verify: $(grep -m1 'verification checks\|checks passed' "$work/install.out" || tail -1 "$work/install.out")" \
    || { fail "swarm install: $(tail -20 "$work/install.out")"; exit 1; }
[ "$swarm_state" != inactive ] || grep -q "ensure-docker: Swarm: this engine is a new swarm with this engine as its manager" "$work/install.out" \
    && pass "ensure-docker made the engine a swarm manager (or found it one)" \
    || fail "ensure-docker did not say it made a swarm: $(grep ensure-docker "$work/install.out" | tail -3)"
labels=$(docker node inspect self --format '{{json .Spec.Labels}}')
for label in sbs.db sbs.ingress sbs.monitoring sbs.ollama; do
    echo "$labels" | grep -q "\"$label\":\"true\"" || fail "this node lacks the placement label $label: $labels"
done
deploy=$root/opt/sbs
[ ! -e "$deploy/.env" ] && [ ! -e "$deploy/docker-compose.yml" ] && [ -f "$deploy/docker-stack.yml" ] \
    && pass "the deploy folder has docker-stack.yml and no .env" || fail "deploy folder: $(ls -A "$deploy")"
# Every secret value of secrets.env, looked for in every service's settings as the swarm keeps them.
mapfile -t service_ids < <(docker service ls -q --filter "label=com.docker.stack.namespace=$project")
specs=$(docker service inspect "${service_ids[@]}")
found=0
while IFS= read -r line; do
    value=${line#*=}
    value=${value#\'}
    value=${value%\'}
    [ ${#value} -ge 8 ] || continue
    if grep -qF -- "$value" <<<"$specs"; then
        fail "the value of ${line%%=*} is in a service's settings"
        found=1
    fi
done <"$root/etc/sbs/secrets.env"
[ "$found" = 0 ] && pass "no secret value is in any service's settings ($(docker secret ls -q --filter "label=sbs.project=$project" | wc -l) Docker secrets made by sbs)"
"$sbs" status --root "$root" >"$work/status.out" 2>&1
grep -Eq '^app-api +2/2 ' "$work/status.out" && grep -Eq '^app-db +1/1 ' "$work/status.out" \
    && pass "sbs status lists each service's tasks: $(grep -E '^app-api ' "$work/status.out")" \
    || fail "sbs status: $(tail -16 "$work/status.out")"

say "2. two API tasks answer through nginx"
site=(--cacert "$root/etc/sbs/ssl/live/swarm.e2e.test/fullchain.pem" --resolve swarm.e2e.test:6443:127.0.0.1)
api_containers=$(docker ps --filter "label=com.docker.swarm.service.name=${project}_app-api" --format '{{.ID}}' | sort)
# Below nginx's rate limit for the API (10 a second).
answered=$(for _ in $(seq 1 30); do
    curl -fsS "${site[@]}" https://swarm.e2e.test:6443/api/health | sed -n 's/.*"instance":"\([0-9a-f]*\)".*/\1/p'
    echo
    sleep 0.2
done | grep . | sort -u)
[ "$(wc -l <<<"$answered")" = 2 ] && [ "$answered" = "$api_containers" ] \
    && pass "both app-api containers answered through nginx: ${answered//$'\n'/ }" \
    || fail "answered: [${answered//$'\n'/ }], running: [${api_containers//$'\n'/ }]"

say "2b. the API tasks reach app-db through PgBouncer"
# More than one API task: app-pooler stands between them and app-db. The stand-in API's /api/db logs in with its
# DATABASE_URL and answers the address app-db sees the connection come from.
pooler=$(docker ps --filter "label=com.docker.swarm.service.name=${project}_app-pooler" --format '{{.ID}}' | head -1)
pooler_ip=$(docker inspect --format "{{(index .NetworkSettings.Networks \"${project}_backend\").IPAddress}}" "$pooler" 2>/dev/null || true)
grep -Eq '^app-pooler +1/1 ' "$work/status.out" && [ -n "$pooler_ip" ] \
    && pass "app-pooler runs one task, at $pooler_ip on the backend network" \
    || fail "app-pooler: $(grep -E '^app-pooler ' "$work/status.out" || echo 'not in sbs status'), address [$pooler_ip]"
clients=$(for _ in $(seq 1 10); do
    curl -sS "${site[@]}" https://swarm.e2e.test:6443/api/db | sed -n 's/.*"client":"\([0-9.]*\)".*/\1/p'
    echo
    sleep 0.2
done | grep . | sort | uniq -c | awk '{ print $2 "x" $1 }')
[ "$clients" = "${pooler_ip}x10" ] \
    && pass "all 10 logins of the API tasks came to app-db from the pooler ($pooler_ip)" \
    || fail "app-db saw the API's logins from [${clients//$'\n'/ }], the pooler is $pooler_ip: $(curl -sS "${site[@]}" https://swarm.e2e.test:6443/api/db)"

say "3. sbs install again changes nothing"
before=$(docker ps -q --filter "label=com.docker.stack.namespace=$project" | sort)
"$sbs" install --answers "$answers" --non-interactive --root "$root" >"$work/again.out" 2>&1 \
    && [ "$(docker ps -q --filter "label=com.docker.stack.namespace=$project" | sort)" = "$before" ] \
    && pass "the second install ran the same $(wc -l <<<"$before") containers on" \
    || fail "second install: $(tail -5 "$work/again.out"); containers before [${before//$'\n'/ }] after [$(docker ps -q --filter "label=com.docker.stack.namespace=$project" | sort | tr '\n' ' ')]"

say "4. an API image that never turns healthy: rolled back by the swarm"
# The stack runs the image's command itself (after the shell that exports the secrets): the server is what breaks.
DOCKER_BUILDKIT=0 docker build -q -t orchestrator-ai/api:broken - >/dev/null <<'DOCKERFILE'
FROM orchestrator-ai/api:1.0.0
RUN echo "require('http').createServer((q, r) => { r.statusCode = 500; r.end('broken'); }).listen(4000);" >/app/server.js
DOCKERFILE
{ cat "$answers"; printf 'images:\n  app-api: orchestrator-ai/api:broken\n'; } >"$work/broken.yaml"
# The site, asked every half second while the update runs and rolls back.
(while true; do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 "${site[@]}" https://swarm.e2e.test:6443/api/health
    sleep 0.5
done) >"$work/during.txt" 2>/dev/null &
load_pid=$!
set +e
"$sbs" install --answers "$work/broken.yaml" --non-interactive --root "$root" >"$work/broken.out" 2>&1
status=$?
set -e
kill "$load_pid" 2>/dev/null || true
wait "$load_pid" 2>/dev/null || true
load_pid=
[ "$status" = 1 ] && grep -q "app-api did not turn healthy, and the swarm rolled it back" "$work/broken.out" \
    && pass "sbs exits 1: $(grep -m1 -o 'The update of app-api[^.]*\.' "$work/broken.out")" \
    || fail "broken image: exit $status: $(tail -8 "$work/broken.out")"
image=$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${project}_app-api")
[ "$image" = orchestrator-ai/api:1.0.0 ] && pass "app-api runs orchestrator-ai/api:1.0.0 again" || fail "app-api runs $image"
requests=$(wc -l <"$work/during.txt")
bad=$(grep -vc '^200$' "$work/during.txt" || true)
[ "$requests" -gt 10 ] && [ "$bad" = 0 ] \
    && pass "the site answered 200 to all $requests requests during the update and its rollback" \
    || fail "during the update: $bad of $requests requests were not 200: $(sort "$work/during.txt" | uniq -c | tr '\n' ' ')"
before=$(docker ps -q --filter "label=com.docker.stack.namespace=$project" | sort)
"$sbs" install --answers "$answers" --non-interactive --root "$root" >"$work/after.out" 2>&1 \
    && [ "$(docker ps -q --filter "label=com.docker.stack.namespace=$project" | sort)" = "$before" ] \
    && pass "the install with the good image again passes and restarts nothing" \
    || fail "install after the rollback: $(tail -5 "$work/after.out")"

say "4b. sbs backup into restic, the database dumped from app-db's task"
"$sbs" backup --root "$root" >"$work/backup.out" 2>&1 \
    && "$sbs" backup --check --root "$root" >>"$work/backup.out" 2>&1 \
    && "$sbs" backup list --json --root "$root" >"$work/backups.json" 2>&1 \
    && [ "$(grep -c . "$work/backups.json")" = 1 ] && grep -q 'globals.sql' "$work/backups.json" \
    && pass "sbs backup, then sbs backup --check: $(tail -1 "$work/backup.out")" \
    || fail "sbs backup on the swarm: $(tail -6 "$work/backup.out")"

say "5. a second engine joins as a worker; app-web runs there"
if [ "$(docker info --format '{{.Swarm.NodeAddr}}')" != "$(scripts/test/swarm-node.sh host-address)" ]; then
    echo "swarm-e2e: step 5 SKIPPED: this engine's swarm advertises $(docker info --format '{{.Swarm.NodeAddr}}'), which a second engine cannot reach; a run on an engine outside any swarm makes one that advertises $(scripts/test/swarm-node.sh host-address)" >&2
else
    node=$(scripts/test/swarm-node.sh join "$node_state" orchestrator-ai/web:1.0.0 | tail -1)
    docker service update --quiet --detach=false --constraint-add "node.id==$node" "${project}_app-web" >/dev/null 2>&1 \
        || fail "app-web could not be placed on the worker"
    on=$(docker service ps --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' "${project}_app-web")
    code=$(curl -s -o /dev/null -w '%{http_code}' "${site[@]}" https://swarm.e2e.test:6443/)
    [[ "$on" == sbs-node2\ Running* ]] && [ "$code" = 200 ] \
        && pass "app-web runs on the worker ($on) and nginx serves it: $code" \
        || fail "app-web on the worker: [$on], site $code"
    "$sbs" verify --root "$root" >"$work/verify-2.out" 2>&1 \
        && pass "sbs verify passes with app-web on the worker" || fail "verify with a worker: $(grep -E 'fail' "$work/verify-2.out" | head -5)"
fi

say "6. sbs uninstall --purge"
"$sbs" uninstall --purge --confirm swarm.e2e.test --root "$root" >"$work/uninstall.out" 2>&1 \
    && [ -z "$(docker service ls -q --filter "label=com.docker.stack.namespace=$project")" ] \
    && ! docker secret ls --format '{{.Name}}' | grep -q "^${project}_" \
    && ! docker config ls --format '{{.Name}}' | grep -q "^${project}_" \
    && [ -z "$(docker volume ls -q --filter "label=com.docker.stack.namespace=$project")" ] \
    && pass "uninstall --purge removed the stack, its secrets, configs and volumes" \
    || fail "uninstall: $(tail -5 "$work/uninstall.out"); left: $(docker service ls -q --filter "label=com.docker.stack.namespace=$project" | wc -l) services, $(docker secret ls --format '{{.Name}}' | grep -c "^${project}_") secrets"
