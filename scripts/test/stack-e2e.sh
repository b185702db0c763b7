#!/usr/bin/env bash
# `check && pass … || fail …` below: pass only prints, so fail runs exactly when the check failed.
# shellcheck disable=SC2015
# The whole install, end to end, on the real ports 80 and 443 of this machine: a Docker engine, stand-in images
# built from a debootstrapped Debian (scripts/test/stand-in-images.sh), Pebble as the CA with its fake DNS, and
# `sbs install --answers scripts/test/stack/*.yaml --non-interactive` through a passing `verify`:
#   1. minimum profile (no Ollama), the API image pulled from a private registry (a real docker-registry with
#      basic authentication, credentials from the answers), first with the CA stopped: the install fails at obtain-certificate and says
#      so; with the CA back, `sbs resume` finishes without re-running what succeeded or changing secrets.env;
#   2. `sbs install` again: nothing changes and no container restarts; the monitoring's targets, probes and
#      Grafana's dashboards (listed through its API, every metric they read in Prometheus); `sbs renew --force` and an install that
#      obtains a new certificate (`--from obtain-certificate`) each make the running nginx serve the new one;
#   2d-2f. backups: backup.sh by hand, `sbs backup` into restic (checked, killed, failing), `sbs restore` onto a
#      new root after the installation was destroyed, then over a running one (--force, killed, run again);
#      then backups to a REST server with a login;
#   2g. `sbs upgrade --to` a version, then `--images` to broken ones with a migrating database: rolled back,
#      data restored (from the REST server);
#   2h. `sbs alerts test` mails a test alert through a relay (STARTTLS, a login) to the answers' recipient;
#   2i. app-web stopped: the SiteDown and ServiceNotRunning mails, then the resolved ones once it runs again; a
#      certificate with 10 days left served: the CertificateExpiresSoon mail;
#   2j. `sbs migrate` from a real PostgreSQL seeded as a hosted Supabase project into app-db: verified, a migrated
#      user logs in through the stack with the same password, a second run copies nothing;
#   3a. the stand-ins fail without one of their declared privileges (a capability, a tmpfs), each for that reason;
#   3. a container stopped by hand, one started beside the stack publishing a port, a capability added by a hand
#      edit: `sbs verify` fails and names each;
#   3b. `sbs uninstall` and `sbs uninstall --purge`;
#   4. recommended profile (Ollama), its images only in a `docker save` archive (answers images.archive): the
#      install loads them, pulls nothing, and pulls the profile's model through Ollama's API.
# Everything started here (stacks, Pebble, the engine if it was not running) is stopped by pid or by name at the
# end. Ports 80 or 443 in use: skipped with the reason (a failure when SBS_REQUIRE_INTEGRATION=1, as in CI).
#
#   scripts/test/stack-e2e.sh clean   only removes what an earlier run killed half-way left behind (its stacks,
#                                     Pebble, registry and files); scripts/test.sh runs it before the tests, since
#                                     such a stack comes back with the engine and holds ports 80 and 443
set -euo pipefail
cd "$(dirname "$0")/../.."
work=/tmp/sbs-e2e
pebble_dir=$work/pebble
engine_state=$work.engine
started=$(date +%s)
failures=0

say() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "PASS: $*"; }

project_of() { # root → compose project name, as sbs names it
    printf 'sbs-%s' "$(printf '%s' "$1" | sha256sum | cut -c1-8)"
}
# A project's containers, volumes and networks, found by compose's labels: no file is needed, so this also removes
# what a run killed half-way left in the engine (its containers restart with it) after its files in /tmp are gone.
down_project() { # project
    docker compose -p "$1" down --volumes --remove-orphans >/dev/null 2>&1 || true
}
down() { # root
    down_project "$(project_of "$1")"
}
# Every stack of a run of this script: those whose folder (as compose recorded it) is under $work.
down_all() { # why
    docker info >/dev/null 2>&1 || return 0
    local project
    for project in $(docker ps -a --filter label=com.docker.compose.project \
            --format '{{.Label "com.docker.compose.project"}} {{.Label "com.docker.compose.project.working_dir"}}' \
            | awk -v prefix="$work/" 'index($2, prefix) == 1 { print $1 }' | sort -u); do
        [ -z "$1" ] || echo "stack-e2e: removing the stack $project $1" >&2
        down_project "$project"
    done
}
clean_leftovers() {
    down_all "that an earlier run left"
    scripts/test/pebble-env.sh stop "$pebble_dir" >/dev/null 2>&1 || true
    if [ -f "$work/registry/pid" ]; then kill "$(cat "$work/registry/pid")" 2>/dev/null || true; fi
    if [ -f "$work/ssh/sshd.pid" ]; then kill "$(cat "$work/ssh/sshd.pid")" 2>/dev/null || true; fi
    if [ -f "$work/rclone.pid" ]; then kill "$(cat "$work/rclone.pid")" 2>/dev/null || true; fi
    docker rm -f sbs-e2e-smtp sbs-e2e-beside >/dev/null 2>&1 || true
    scripts/test/pg-pair.sh stop "$work/pg" >/dev/null 2>&1 || true
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
    down_all ""
    scripts/test/pebble-env.sh stop "$pebble_dir" >/dev/null 2>&1
    [ -f "$work/registry/pid" ] && kill "$(cat "$work/registry/pid")" 2>/dev/null
    [ -f "$work/ssh/sshd.pid" ] && kill "$(cat "$work/ssh/sshd.pid")" 2>/dev/null
    [ -f "$work/rclone.pid" ] && kill "$(cat "$work/rclone.pid")" 2>/dev/null
    docker rm -f sbs-e2e-smtp sbs-e2e-beside >/dev/null 2>&1
    scripts/test/pg-pair.sh stop "$work/pg" >/dev/null 2>&1
    scripts/test/docker-env.sh stop "$engine_state" >/dev/null 2>&1
    echo "stack-e2e: $((failures)) failed checks; $(($(date +%s) - started)) s in all"
    [ "$failures" -eq 0 ] || status=1
    exit "$status"
}
trap cleanup EXIT
say "Docker engine, base image, stand-in images"
scripts/test/docker-env.sh start "$engine_state"
# A previous run killed half-way: its stacks and Pebble go first (ports 80/443 and Pebble's fixed ports).
clean_leftovers
port_busy() { ss -Hltn "sport = :$1" | grep -q .; }
# 80 and 443 for the stack; Pebble's fixed ports and the registry's, which the answers files name.
for port in 80 443 14200 14201 14202 14203 14204 14205 14210 14230; do
    if port_busy "$port"; then
        echo "stack-e2e: port $port is in use on this machine ($(ss -Hltnp "sport = :$port" | head -1)); the end-to-end install needs 80, 443 and 14200-14210" >&2
        [ "${SBS_REQUIRE_INTEGRATION:-0}" = 1 ] && exit 1
        echo "stack-e2e: SKIPPED" >&2
        exit 0
    fi
done

mkdir -p "$work"
scripts/test/docker-env.sh base-image
scripts/test/stand-in-images.sh build
scripts/test/stand-in-images.sh check   # each stand-in has the health tools of its real image and no others

say "Pebble on 127.0.0.1:14200, validating HTTP-01 on port 80 (the stack's nginx)"
PEBBLE_ENV_PORTS="14200 14201 14202 14203 14204 80 14205" PEBBLE_ENV_WEBROOT_SERVER=0 \
    scripts/test/pebble-env.sh start "$pebble_dir" >/dev/null

say "A private registry on 127.0.0.1:14210 (basic authentication) holding the API image"
export SBS_E2E_REGISTRY_PASSWORD=registry-pass-e2e-0001
registry=$work/registry
mkdir -p "$registry/data" "$registry/client"
htpasswd -Bbn sbs-e2e "$SBS_E2E_REGISTRY_PASSWORD" >"$registry/htpasswd"
cat >"$registry/config.yml" <<YAML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $registry/data}}
http: {addr: 127.0.0.1:14210}
auth: {htpasswd: {realm: sbs-e2e, path: $registry/htpasswd}}
YAML
setsid docker-registry serve "$registry/config.yml" >"$registry/log" 2>&1 </dev/null &
echo $! >"$registry/pid"
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:14210/v2/" && break; sleep 0.1; done
# The test's own client config pushes; sbs gets nothing but the answers' credentials.
printf '{"auths": {"127.0.0.1:14210": {"auth": "%s"}}}\n' "$(printf 'sbs-e2e:%s' "$SBS_E2E_REGISTRY_PASSWORD" | base64 -w0)" \
    >"$registry/client/config.json"
docker tag orchestrator-ai/api:1.0.0 127.0.0.1:14210/orchestrator-ai/api:1.0.0
DOCKER_CONFIG=$registry/client docker push --quiet 127.0.0.1:14210/orchestrator-ai/api:1.0.0 >/dev/null
docker rmi 127.0.0.1:14210/orchestrator-ai/api:1.0.0 >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:14210/v2/_catalog)" = 401 ] \
    && pass "the registry refuses requests without credentials" || fail "the registry answers without credentials"

containers_of() { # root → "name started-at" lines, sorted
    docker ps -q --filter "label=com.docker.compose.project=$(project_of "$1")" \
        | xargs -r docker inspect --format '{{.Name}} {{.State.StartedAt}}' | sort
}

say "An sftp server on 127.0.0.1:14220 for the backups (this machine's sshd, its keys made here)"
mkdir -p "$work/ssh" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/id"
cp "$work/ssh/id.pub" "$work/ssh/authorized_keys"
printf '[127.0.0.1]:14220 %s\n' "$(cut -d' ' -f1,2 "$work/ssh/host_key.pub")" >"$work/ssh/known_hosts"
cat >"$work/ssh/sshd_config" <<SSHD
Port 14220
ListenAddress 127.0.0.1
HostKey $work/ssh/host_key
AuthorizedKeysFile $work/ssh/authorized_keys
PidFile $work/ssh/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
SSHD
/usr/sbin/sshd -f "$work/ssh/sshd_config" -E "$work/ssh/sshd.log"
sftp_repository="sftp:root@127.0.0.1:$work/sftp-repository"
sftp_options=(--sftp-port 14220 --sftp-identity-file "$work/ssh/id" --sftp-known-hosts "$work/ssh/known_hosts")
restic_sftp() { # the sftp repository by hand, as sbs reaches it
    restic --repo "$sftp_repository" --password-file "$work/backup-password" --cache-dir "$work/restic-cache" \
        -o "sftp.command=ssh -p 14220 -i $work/ssh/id -o UserKnownHostsFile=$work/ssh/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes root@127.0.0.1 -s sftp" "$@"
}

# ---------------------------------------------------------------------------------------------------------------
root=$work/root-minimum
say "1. minimum profile with the CA stopped: the install fails at obtain-certificate"
scripts/test/pebble-env.sh stop-pebble "$pebble_dir"
set +e
"$sbs" install --answers scripts/test/stack/minimum.yaml --non-interactive --root "$root" >"$work/first.out" 2>&1
status=$?
set -e
tail -5 "$work/first.out"
grep -q "pulling 127.0.0.1:14210/orchestrator-ai/api:1.0.0" "$work/first.out" && grep -q "pulled 127.0.0.1:14210/orchestrator-ai/api:1.0.0" "$work/first.out" \
    && pass "the API image was pulled from the private registry with the answers' credentials" || fail "no pull from the registry"
[ "$(stat -c %a "$root/etc/sbs/docker/config.json")" = 600 ] && ! grep -q "$SBS_E2E_REGISTRY_PASSWORD" "$root/etc/sbs/docker/config.json" \
    && pass "the registry credentials are kept 0600, the password not in clear" || fail "registry credentials file"
! grep -rq "$SBS_E2E_REGISTRY_PASSWORD" "$root/var/lib/sbs" "$root/var/log/sbs" "$work/first.out" \
    && pass "the registry password is in no state, log or output" || fail "the registry password leaked"
[ $status -eq 1 ] && pass "exit 1 with the CA stopped" || fail "exit $status with the CA stopped (expected 1)"
grep -q "obtain-certificate" "$work/first.out" && grep -qi "127.0.0.1:14200" "$work/first.out" \
    && pass "the error names the step and the CA" || fail "the error does not name obtain-certificate and the CA"
"$sbs" status --json --root "$root" >"$work/status1.json"
python3 - "$work/status1.json" <<'PY' && pass "state: obtain-certificate failed, the steps before it succeeded" || fail "unexpected state after the failure"
import json, sys
steps = {s["id"]: s["status"] for s in json.load(open(sys.argv[1]))["steps"]}
assert steps["obtain-certificate"] == "failed", steps
for done in ["collect-answers", "generate-secrets", "write-configs", "start-proxy"]:
    assert steps[done] == "succeeded", (done, steps)
PY
secrets_before=$(sha256sum "$root/etc/sbs/secrets.env")

say "1b. CA back: sbs resume finishes"
scripts/test/pebble-env.sh start-pebble "$pebble_dir" >/dev/null
if "$sbs" resume --root "$root" >"$work/resume.out" 2>&1; then pass "resume exit 0"; else fail "resume failed"; fi
tail -25 "$work/resume.out"
grep -Eq "write-configs.*(up to date|unchanged)" "$work/resume.out" && pass "resume did not re-run write-configs" \
    || fail "resume re-ran write-configs"
[ "$(sha256sum "$root/etc/sbs/secrets.env")" = "$secrets_before" ] && pass "secrets.env unchanged by resume" \
    || fail "secrets.env changed"
if "$sbs" verify --json --root "$root" >"$work/verify1.json"; then pass "verify passes"; else fail "verify fails: $(cat "$work/verify1.json")"; fi
python3 - "$work/verify1.json" "$root/var/lib/sbs/verify.json" <<'PY' && pass "verify report: every check passes or is skipped, and is kept" || fail "verify report"
import json, sys
report = json.load(open(sys.argv[1]))
kept = json.load(open(sys.argv[2]))
assert report == kept, "printed and kept reports differ"
statuses = {c["id"]: c["status"] for c in report["checks"]}
assert statuses and all(s in ("pass", "skip") for s in statuses.values()), statuses
assert sum(s == "pass" for s in statuses.values()) >= 8, statuses
PY
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$pebble_dir/bundle.pem" --resolve shop.e2e.test:443:127.0.0.1 https://shop.e2e.test/api/health)
[ "$code" = 200 ] && pass "https://shop.e2e.test/api/health through the stack: 200 (Pebble's chain)" || fail "api health: $code"

say "1c. every container of the stack restarted (as after a crash or a reboot): each comes back healthy"
# Docker mounts a tmpfs afresh at each start, with the mode of its mount point: a container that writes only
# at its first start, or a tmpfs on a folder the image lacks, shows here (Kong's prefix did, as root's 0755).
mapfile -t stack_containers < <(docker ps -q --filter "label=com.docker.compose.project=$(project_of "$root")")
docker restart -t 20 "${stack_containers[@]}" >/dev/null
unhealthy=""
for _ in $(seq 1 90); do
    unhealthy=$(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "${stack_containers[@]}" \
        | awk '$2 != "healthy" && $2 != "running"')
    [ -z "$unhealthy" ] && break
    sleep 2
done
[ -z "$unhealthy" ] && pass "all ${#stack_containers[@]} containers are healthy again after a restart" \
    || fail "after a restart: $unhealthy; $(docker logs --tail 3 "$(echo "$unhealthy" | head -1 | cut -d' ' -f1 | tr -d /)" 2>&1 | tr '\n' ' ')"
"$sbs" verify --root "$root" >"$work/verify-restarted.out" 2>&1 && pass "verify passes after the restart" \
    || fail "verify after the restart: $(grep -i fail "$work/verify-restarted.out" | head -3)"

say "2. sbs install again: nothing changes, nothing restarts"
before=$(containers_of "$root")
"$sbs" install --answers scripts/test/stack/minimum.yaml --non-interactive --root "$root" >"$work/again.out" 2>&1 \
    && pass "second install exit 0" || fail "second install failed: $(tail -5 "$work/again.out")"
after=$(containers_of "$root")
[ -n "$before" ] && [ "$before" = "$after" ] && pass "the same $(echo "$after" | wc -l) containers, none restarted" \
    || fail "containers changed: before [$before] after [$after]"
[ "$(sha256sum "$root/etc/sbs/secrets.env")" = "$secrets_before" ] && pass "secrets.env unchanged" || fail "secrets.env changed"
# Alertmanager (monitoring profile) runs as nobody and reads its configuration (0640, group nogroup: a webhook's URL
# would be a credential) through that group: it loaded the rendered route.
am_status=$(docker compose -p "$(project_of "$root")" exec -T alertmanager wget -q -O - http://127.0.0.1:9093/api/v2/status 2>&1)
[ "$(stat -c '%a %U %g' "$root/opt/sbs/monitoring/alertmanager/alertmanager.yml")" = "640 root 65534" ] \
    && [ "$(docker compose -p "$(project_of "$root")" exec -T alertmanager id -u)" = 65534 ] \
    && grep -q 'receiver: person' <<<"$am_status" \
    && pass "Alertmanager runs as nobody and loaded its 0640 root:nogroup configuration" \
    || fail "Alertmanager: $(stat -c '%a %U %g' "$root/opt/sbs/monitoring/alertmanager/alertmanager.yml" 2>&1); ${am_status:0:300}"

# The monitoring profile's exporters: Prometheus (Debian's real one in the stand-in) scrapes every target; the
# exporters succeed at what they look at, asked afresh from Prometheus's container as Prometheus asks them.
project=$(project_of "$root")
in_prometheus() { docker compose -p "$project" exec -T prometheus wget -q -O - "$1"; }
# Prometheus's own view: once it has scraped each target (the first scrape of a target may be an interval away).
for _ in $(seq 1 45); do
    in_prometheus 'http://127.0.0.1:9090/api/v1/targets?state=active' >"$work/targets.json" 2>&1
    grep -q '"health":"unknown"' "$work/targets.json" || break
    sleep 2
done
python3 - "$work/targets.json" <<'PY' && pass "every Prometheus target is up: the exporters, Kong, the site's probes, Prometheus, Alertmanager, Grafana" || fail "targets: $(head -c 600 "$work/targets.json")"
import json, sys
targets = json.load(open(sys.argv[1]))["data"]["activeTargets"]
jobs = {t["labels"]["job"] for t in targets}
assert jobs == {"prometheus", "alertmanager", "grafana", "node", "postgres", "kong", "blackbox", "site"}, jobs
assert all(t["health"] == "up" for t in targets), [(t["scrapeUrl"], t["health"], t["lastError"]) for t in targets]
probes = sorted(t["labels"]["instance"] for t in targets if t["labels"]["job"] == "site")
assert probes == ["https://shop.e2e.test/", "https://shop.e2e.test/api/health", "https://shop.e2e.test/auth/v1/health",
                  "https://www.shop.e2e.test/"], probes
PY
in_prometheus 'http://blackbox-exporter:9115/probe?module=site&target=https://www.shop.e2e.test/' >"$work/probe.txt" 2>&1
python3 - "$work/probe.txt" "$root/etc/sbs/ssl/live/shop.e2e.test/fullchain.pem" <<'PY' \
    && pass "blackbox-exporter probes www through nginx, verifies the chain with the answers' CA and reads the served certificate's expiry" \
    || fail "the probe: $(grep -v '^#' "$work/probe.txt" | head -20)"
import re, subprocess, sys
from datetime import datetime, timezone
probe = dict(re.findall(r"^(probe_[a-z_]+) (\S+)$", open(sys.argv[1]).read(), re.M))
assert probe["probe_success"] == "1" and probe["probe_http_status_code"] == "200" and probe["probe_http_ssl"] == "1", probe
pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", open(sys.argv[2]).read(), re.S)
ends = []
for pem in pems:
    end = subprocess.run(["openssl", "x509", "-noout", "-enddate"], input=pem, capture_output=True, text=True).stdout
    when = datetime.strptime(end.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z").replace(tzinfo=timezone.utc)
    ends.append(when.timestamp())
assert float(probe["probe_ssl_earliest_cert_expiry"]) == min(ends), (probe["probe_ssl_earliest_cert_expiry"], ends)
PY
in_prometheus 'http://postgres-exporter:9187/metrics' >"$work/pg-exporter.txt" 2>&1
role=$(docker compose -p "$project" exec -T app-db psql -U postgres -d postgres -At -c \
    "SELECT rolsuper, rolcreaterole, rolcreatedb, pg_has_role(oid, 'pg_monitor', 'member'), array_to_string(rolconfig, ',') FROM pg_roles WHERE rolname = 'sbs_monitor'" 2>&1)
monitor_password=$("$sbs" secrets show MONITORING_DB_PASSWORD --root "$root" 2>/dev/null)
grep -qx 'pg_up 1' "$work/pg-exporter.txt" && grep -q '^pg_settings_max_connections[{ ]' "$work/pg-exporter.txt" \
    && [ "$role" = "f|f|f|t|default_transaction_read_only=on" ] && [ ${#monitor_password} -ge 32 ] \
    && ! grep -rqF "$monitor_password" "$root/opt/sbs/docker-compose.yml" "$root/opt/sbs/db" "$work/first.out" "$work/again.out" "$root/var/log/sbs" \
    && pass "postgres-exporter reads app-db as sbs_monitor (pg_monitor, read-only, no other right; its password only in the secret files)" \
    || fail "postgres-exporter: role [$role], $(grep -E '^pg_up|^pg_settings_max_connections' "$work/pg-exporter.txt")"

# Grafana's dashboards, provisioned from files (monitoring/grafana/dashboards/*.json in the deploy folder): the
# stand-in Grafana lists each of them in the folder "Small Business Server", asked inside the monitoring container
# with the admin's login read there from the container's own environment (never an argument of a command line;
# python3 is the stand-in's, the real image has none). Then every metric the dashboards' queries read is one that
# Prometheus has, except:
#   kong_latency_*, kong_bandwidth  Kong's own (from Kong 2.8's source); the stand-in Kong counts requests by status
#                  only (kong_http_status, which is asked for: the installs' verify went through Kong);
#   sbs_* of a job that has not run yet here (sbs renew: 2b, sbs backup: 2e): only those sbs has written into
#                  the metrics folder are asked for (the install's verify writes sbs-verify.prom).
# Prometheus scrapes every 60 s on the minimum profile: the names are asked for up to 90 s. `sbs metrics` (the
# timer's command) writes the containers' states first.
"$sbs" metrics --root "$root" --quiet
dashboards=$root/opt/sbs/monitoring/grafana/dashboards
docker compose -p "$project" exec -T monitoring python3 -c '
import base64, json, os, urllib.request
login = os.environ.get("GF_SECURITY_ADMIN_USER", "admin") + ":" + os.environ["GF_SECURITY_ADMIN_PASSWORD"]
request = urllib.request.Request("http://127.0.0.1:3000/api/search?type=dash-db",
                                 headers={"Authorization": "Basic " + base64.b64encode(login.encode()).decode()})
print(urllib.request.urlopen(request, timeout=10).read().decode())
' >"$work/grafana-search.json" 2>&1
python3 - "$work/grafana-search.json" "$dashboards" <<'PY' \
    && pass "Grafana lists every provisioned dashboard in the folder Small Business Server: $(python3 -c 'import json, sys; print(", ".join(sorted(h["title"] for h in json.load(open(sys.argv[1])))))' "$work/grafana-search.json")" \
    || fail "Grafana's dashboards: $(head -c 600 "$work/grafana-search.json")"
import glob, json, sys
hits = json.load(open(sys.argv[1]))
files = sorted(glob.glob(sys.argv[2] + "/*.json"))
want = sorted(json.load(open(f))["uid"] for f in files)
got = sorted(h["uid"] for h in hits if h["type"] == "dash-db" and h.get("folderTitle") == "Small Business Server")
assert len(files) == 5 and got == want, (got, want)
PY
cat >"$work/dashboard-metrics.py" <<'PY'
import glob, json, os, re, sys
have = set(json.load(open(sys.argv[1]))["data"])
written = "".join(open(f).read() for f in glob.glob(sys.argv[3] + "/*.prom"))
def names(expr):
    for pattern in (r'"[^"]*"', r"\{[^}]*\}", r"\[[^\]]*\]", r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"):
        expr = re.sub(pattern, " ", expr)
    for match in re.finditer(r"[0-9.]*[A-Za-z_:][A-Za-z0-9_:]*", expr):
        name, rest = match.group(0), expr[match.end():].lstrip()
        if not name[0].isdigit() and name[0] != "." and not rest.startswith("(") and name.lower() not in (
                "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                "offset", "inf", "nan"):
            yield name
used, skipped = {}, set()
for file in sorted(glob.glob(sys.argv[2] + "/*.json")):
    for panel in json.load(open(file))["panels"]:
        for target in panel.get("targets", []):
            for name in names(target["expr"]):
                if name.startswith(("kong_latency", "kong_bandwidth")) or (
                        name.startswith("sbs_") and name not in written):
                    skipped.add(name)
                else:
                    used.setdefault(name, os.path.basename(file))
missing = {name: file for name, file in used.items() if name not in have}
print("%d metrics read by the dashboards, all in Prometheus; not asked for: %s" % (len(used), ", ".join(sorted(skipped))))
assert not missing, "not in Prometheus: %s" % missing
PY
for _ in $(seq 1 45); do
    in_prometheus 'http://127.0.0.1:9090/api/v1/label/__name__/values' >"$work/metric-names.json" 2>&1
    python3 "$work/dashboard-metrics.py" "$work/metric-names.json" "$dashboards" "$root/var/lib/sbs/metrics" \
        >"$work/dashboard-metrics.out" 2>&1 && break
    sleep 2
done
python3 "$work/dashboard-metrics.py" "$work/metric-names.json" "$dashboards" "$root/var/lib/sbs/metrics" \
    >"$work/dashboard-metrics.out" 2>&1 \
    && pass "$(cat "$work/dashboard-metrics.out")" || fail "the dashboards' metrics: $(tail -3 "$work/dashboard-metrics.out")"

# Kong's prometheus plugin (kong/kong.yml) counts what Kong routes; Prometheus's kong job reads app-kong's Status
# API, which is neither published on the host nor reachable through nginx.
kong_sample() { # the value of auth-v1's kong_http_status sample with code $1 in Kong's /metrics, 0 when none
    in_prometheus 'http://app-kong:8100/metrics' 2>/dev/null \
        | awk -v want="kong_http_status{service=\"auth-v1\",route=\"auth-v1\",code=\"$1\"}" '$1 == want { v = $2 } END { print v + 0 }'
}
kong_before=$(kong_sample 200)
for _ in 1 2 3; do
    curl -s -o /dev/null --cacert "$pebble_dir/bundle.pem" --resolve shop.e2e.test:443:127.0.0.1 \
        https://shop.e2e.test/auth/v1/health
done
kong_after=$(kong_sample 200)
[ "$kong_after" -ge $((kong_before + 3)) ] \
    && pass "Kong counted the 3 requests through nginx to /auth/v1/health (kong_http_status 200: $kong_before → $kong_after)" \
    || fail "Kong's /metrics: kong_http_status{service=auth-v1,code=200} went $kong_before → $kong_after after 3 requests"
# Prometheus has it once it scrapes Kong again (one scrape interval: 60 s on minimum).
query='http://127.0.0.1:9090/api/v1/query?query=kong_http_status%7Bjob%3D%22kong%22%2Cservice%3D%22auth-v1%22%2Croute%3D%22auth-v1%22%2Ccode%3D%22200%22%7D'
for _ in $(seq 1 40); do
    in_prometheus "$query" >"$work/kong-query.json" 2>&1
    python3 - "$work/kong-query.json" "$kong_after" <<'PY' >/dev/null 2>&1 && break
import json, sys
result = json.load(open(sys.argv[1]))["data"]["result"]
assert result and float(result[0]["value"][1]) >= float(sys.argv[2])
PY
    sleep 2
done
python3 - "$work/kong-query.json" "$kong_after" <<'PY' \
    && pass "Prometheus's kong job has kong_http_status{service=\"auth-v1\",route=\"auth-v1\",code=\"200\"} from app-kong's Status API" \
    || fail "Prometheus's query for Kong's counts: $(head -c 600 "$work/kong-query.json")"
import json, sys
result = json.load(open(sys.argv[1]))["data"]["result"]
assert len(result) == 1, result
labels = result[0]["metric"]
assert labels["job"] == "kong" and labels["instance"] == "app-kong:8100", labels
assert float(result[0]["value"][1]) >= float(sys.argv[2]), (result, sys.argv[2])
PY
# The APIErrors rule evaluates Kong 2.8's series without error (and does not fire on a healthy stack).
in_prometheus 'http://127.0.0.1:9090/api/v1/rules?type=alert' >"$work/rules.json" 2>&1
python3 - "$work/rules.json" <<'PY' && pass "APIErrors is loaded, evaluates without error and is not firing" || fail "APIErrors: $(head -c 600 "$work/rules.json")"
import json, sys
rules = [r for g in json.load(open(sys.argv[1]))["data"]["groups"] for r in g["rules"] if r["name"] == "APIErrors"]
assert len(rules) == 1, rules
assert "kong_http_status" in rules[0]["query"] and rules[0]["health"] == "ok" and rules[0]["state"] == "inactive", rules[0]
PY
# The Status API stays inside the stack: compose publishes no port of app-kong, the host reaches nothing on 8100.
! docker compose -p "$project" port app-kong 8100 >/dev/null 2>&1 \
    && ! curl -s -o /dev/null --max-time 3 http://127.0.0.1:8100/metrics \
    && pass "Kong's Status API is not published on the host" || fail "Kong's Status API (8100) is reachable from the host"

say "2b. sbs renew --force: the stack's nginx serves the new certificate without a restart"
before=$(containers_of "$root")
"$sbs" renew --force --root "$root" >"$work/renew.out" 2>&1 && pass "renew exit 0" || fail "renew failed: $(tail -5 "$work/renew.out")"
grep -q "nginx reloaded" "$work/renew.out" && pass "renew reloaded nginx" || fail "renew did not reload nginx"
# A reload is asynchronous: the old workers finish their connections while the new ones start.
live=$(openssl x509 -in "$root/etc/sbs/ssl/live/shop.e2e.test/cert.pem" -noout -serial)
for _ in $(seq 1 50); do
    served=$(echo | openssl s_client -connect 127.0.0.1:443 -servername shop.e2e.test 2>/dev/null | openssl x509 -noout -serial)
    [ "$served" = "$live" ] && break
    sleep 0.2
done
[ -n "$served" ] && [ "$served" = "$live" ] && pass "nginx serves the renewed certificate ($live)" || fail "served $served, live $live"
[ "$before" = "$(containers_of "$root")" ] && pass "no container restarted by the renewal" || fail "the renewal restarted containers"

say "2c. sbs install --from obtain-certificate: a new certificate within an install, no configuration change"
# Nothing the stack runs from changes, so no container is recreated: the running nginx must be told to reload, or
# it keeps serving the certificate it loaded (verify would not see it here: the old one is from the same CA).
before=$(containers_of "$root")
live_before=$(openssl x509 -in "$root/etc/sbs/ssl/live/shop.e2e.test/cert.pem" -noout -serial)
"$sbs" install --answers scripts/test/stack/minimum.yaml --non-interactive --root "$root" --from obtain-certificate >"$work/reissue.out" 2>&1 \
    && pass "install --from obtain-certificate exit 0" || fail "install --from obtain-certificate failed: $(tail -5 "$work/reissue.out")"
live=$(openssl x509 -in "$root/etc/sbs/ssl/live/shop.e2e.test/cert.pem" -noout -serial)
[ "$live" != "$live_before" ] && pass "a new certificate is live ($live)" || fail "the live certificate did not change ($live)"
grep -q "start-stack: .*reloading nginx" "$work/reissue.out" && pass "start-stack reloaded nginx" \
    || fail "start-stack did not reload nginx: $(grep 'start-stack:' "$work/reissue.out" | tail -3)"
served=$(echo | openssl s_client -connect 127.0.0.1:443 -servername shop.e2e.test 2>/dev/null | openssl x509 -noout -serial)
[ -n "$served" ] && [ "$served" = "$live" ] && pass "nginx serves the new certificate ($served) when the install ends" \
    || fail "nginx serves $served, the live certificate is $live"
[ "$before" = "$(containers_of "$root")" ] && pass "no container restarted by the new certificate" || fail "the new certificate restarted containers"

say "2d. by hand in the deploy folder: docker compose, and the nightly dump (backup/backup.sh)"
# `docker compose` typed in the deploy folder (as the README suggests) must address this stack: .env's
# COMPOSE_PROJECT_NAME wins over the compose file's name, so both must be the project sbs runs.
deploy=$root/opt/sbs
by_hand=$(cd "$deploy" && docker compose ps -q | sort)
[ -n "$by_hand" ] && [ "$by_hand" = "$(docker ps -q --no-trunc --filter "label=com.docker.compose.project=$(project_of "$root")" | sort)" ] \
    && pass "docker compose in $deploy addresses this stack ($(echo "$by_hand" | wc -l) containers)" \
    || fail "docker compose in $deploy lists [$by_hand], not the stack $(project_of "$root")"
dumps=$work/dumps
dump_count() { find "$dumps" -maxdepth 1 -name 'db-*.sql.gz' | wc -l; }
for i in 1 2; do
    "$deploy/backup/backup.sh" "$dumps" 2 >"$work/backup$i.out" 2>&1 || fail "backup.sh failed: $(cat "$work/backup$i.out")"
    sleep 1 # one dump per second: names are stamped to the second
done
newest=$(find "$dumps" -maxdepth 1 -name 'db-*.sql.gz' | sort | tail -1)
[ "$(dump_count)" = 2 ] && gzip -dc "$newest" | grep -q '^CREATE ROLE' && gzip -dc "$newest" | tail -n 5 | grep -q 'dump complete' \
    && pass "backup.sh keeps complete dumps ($(dump_count), the newest with the roles and the end marker)" \
    || fail "backup.sh dumps: $(dump_count) in $dumps; $(cat "$work/backup2.out")"
# The database down: pg_dumpall fails inside a pipeline into gzip. Each failed run must exit non-zero and keep the
# older dumps (with keep=2, a failed run that counted as a dump would rotate a good one out).
before_dumps=$(find "$dumps" -maxdepth 1 -type f | sort)
docker compose -p "$(project_of "$root")" stop app-db >/dev/null 2>&1
for i in 1 2 3; do
    if "$deploy/backup/backup.sh" "$dumps" 2 >"$work/backup-down$i.out" 2>&1; then fail "backup.sh exit 0 with the database stopped"; fi
    sleep 1
done
grep -q "pg_dumpall failed" "$work/backup-down1.out" && pass "backup.sh says the dump failed: $(tail -1 "$work/backup-down1.out")" \
    || fail "backup.sh with the database stopped: $(cat "$work/backup-down1.out")"
[ "$(find "$dumps" -maxdepth 1 -type f | sort)" = "$before_dumps" ] \
    && pass "three failed dumps left the two good ones untouched and no partial file" \
    || fail "failed dumps changed $dumps: $(ls -l "$dumps")"
docker compose -p "$(project_of "$root")" start app-db >/dev/null 2>&1
for _ in $(seq 1 60); do
    [ "$(docker inspect --format '{{.State.Health.Status}}' "$(docker compose -p "$(project_of "$root")" ps -q app-db)")" = healthy ] && break
    sleep 1
done

say "2e. sbs backup into restic: rows written, backed up, restored into a scratch database; a failed dump keeps the repository as it was"
project=$(project_of "$root")
psql_db() { docker compose -p "$project" exec -T app-db psql -U postgres -At "$@"; }
psql_db -c "CREATE TABLE e2e_orders (id serial PRIMARY KEY, item text NOT NULL); INSERT INTO e2e_orders (item) SELECT 'order ' || n FROM generate_series(1, 250) n;" >/dev/null
repository=$root/var/backups/sbs/restic
restic_e2e() { restic --repo "$repository" --password-command "\"$sbs\" secrets show BACKUP_PASSWORD --root \"$root\"" --cache-dir "$work/restic-cache" "$@"; }
snapshot_count() { restic_e2e snapshots --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
if "$sbs" backup --root "$root" >"$work/backup.out" 2>&1; then pass "sbs backup exit 0: $(tail -1 "$work/backup.out")"; else fail "sbs backup failed: $(tail -5 "$work/backup.out")"; fi
"$sbs" backup list --root "$root" --json >"$work/backups.json" 2>&1 || fail "sbs backup list failed: $(cat "$work/backups.json")"
python3 - "$work/backups.json" <<'PY' && pass "sbs backup list: one backup with the roles, each database and the files" || fail "backup list: $(cat "$work/backups.json")"
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
assert len(entries) == 1, entries
names = [p["name"] for p in entries[0]["parts"]]
assert names[0] == "db/globals.sql" and "db/postgres.dump" in names and names[-1] == "files", names
PY
# Its exit status is not the point here (the checks below read the report), so a failing check cannot end the script.
"$sbs" verify --json --root "$root" >"$work/verify-backup.json" 2>/dev/null || true
python3 - "$work/verify-backup.json" <<'PY' && pass "verify's backup check passes with the backup just made" || fail "verify's backup check: $(grep -o '"id": "backup"[^}]*' "$work/verify-backup.json")"
import json, sys
checks = {c["id"]: c for c in json.load(open(sys.argv[1]))["checks"]}
assert checks["backup"]["status"] == "pass" and " min ago" in checks["backup"]["detail"], checks["backup"]
PY
"$sbs" status --root "$root" | grep -q "^Last backup: " && pass "sbs status names the last backup" || fail "sbs status does not name the last backup"
# sbs's own metrics for node_exporter's textfile collector: the renewal (step 2b), the backup and this verify, in
# the text format promtool reads, with what the alert rules look for.
metrics=$root/var/lib/sbs/metrics
for job in renew backup verify; do
    promtool check metrics <"$metrics/sbs-$job.prom" >"$work/metrics-$job.out" 2>&1 || fail "sbs-$job.prom: $(cat "$work/metrics-$job.out")"
done
python3 - "$metrics" <<'PY' && pass "sbs writes its metrics: the last backup and renewal times, each verify check (promtool reads them)" || fail "metrics in $metrics: $(cat "$metrics"/*.prom 2>&1 | head -20)"
import re, sys, time
folder = sys.argv[1]
def value(job, sample):
    match = re.search(r"^" + re.escape(sample) + r" (\S+)$", open(f"{folder}/sbs-{job}.prom").read(), re.M)
    return float(match.group(1))
assert time.time() - value("backup", "sbs_backup_last_success_timestamp_seconds") < 900
assert value("backup", "sbs_backup_last_size_bytes") > 0
assert time.time() - value("renew", "sbs_renew_last_success_timestamp_seconds") < 3600
assert value("verify", 'sbs_verify_check_passed{check="backup"}') == 1
assert value("verify", 'sbs_verify_check_passed{check="web-app"}') == 1
PY
# node-exporter serves them from the installation's metrics folder (its textfile collector, the folder mounted).
docker compose -p "$(project_of "$root")" exec -T prometheus wget -q -O - http://node-exporter:9100/metrics >"$work/node.txt" 2>&1
grep -q '^sbs_backup_last_size_bytes [1-9]' "$work/node.txt" && grep -q '^sbs_verify_check_passed{check="web-app"} 1' "$work/node.txt" \
    && grep -q '^node_filesystem_avail_bytes{.*mountpoint="/"}' "$work/node.txt" \
    && ! grep -q '^node_filesystem_avail_bytes{.*mountpoint="/etc/' "$work/node.txt" \
    && pass "node-exporter serves sbs's metrics and the host's filesystems (not the container's /etc files)" \
    || fail "node-exporter: $(grep -E '^sbs_|^node_textfile' "$work/node.txt" | head -10)"
# The trial restore: right after the backup every table's count is as live; a row written since makes it fail,
# naming the table; the scratch databases are gone either way.
"$sbs" backup --check --root "$root" >"$work/backup-check.out" 2>&1 \
    && grep -q "every table's row count as in the live database" "$work/backup-check.out" \
    && pass "sbs backup --check: $(tail -1 "$work/backup-check.out")" || fail "sbs backup --check: $(tail -5 "$work/backup-check.out")"
psql_db -c "INSERT INTO e2e_orders (item) VALUES ('written after the backup')" >/dev/null
if "$sbs" backup --check --root "$root" >"$work/backup-check2.out" 2>&1; then
    fail "sbs backup --check exit 0 with a row written since the backup"
else
    grep -q "public.e2e_orders: restored 250, live 251" "$work/backup-check2.out" \
        && pass "sbs backup --check fails naming the table written since the backup" || fail "backup --check: $(tail -5 "$work/backup-check2.out")"
fi
psql_db -c "DELETE FROM e2e_orders WHERE item = 'written after the backup'" >/dev/null
[ -z "$(psql_db -c "SELECT datname FROM pg_database WHERE datname LIKE 'sbs_check_%'")" ] \
    && pass "no scratch database is left" || fail "scratch databases left: $(psql_db -c "SELECT datname FROM pg_database WHERE datname LIKE 'sbs_check_%'")"
postgres_snapshot=$(python3 -c 'import json, sys; print([p["snapshot"] for p in json.loads(open(sys.argv[1]).readline())["parts"] if p["name"] == "db/postgres.dump"][0])' "$work/backups.json")
psql_db -c "CREATE DATABASE e2e_restored" >/dev/null
restic_e2e dump "$postgres_snapshot" /db/postgres.dump | docker compose -p "$project" exec -T app-db pg_restore -U postgres -d e2e_restored >"$work/pg_restore.out" 2>&1 \
    || fail "pg_restore of the backed-up dump failed: $(tail -5 "$work/pg_restore.out")"
[ "$(psql_db -d e2e_restored -c 'SELECT count(*) FROM e2e_orders')" = 250 ] \
    && pass "the dump restored from the repository holds the 250 rows written before the backup" \
    || fail "restored rows: $(psql_db -d e2e_restored -c 'SELECT count(*) FROM e2e_orders' 2>&1)"
psql_db -c "DROP DATABASE e2e_restored" >/dev/null
backup_password=$("$sbs" secrets show BACKUP_PASSWORD --root "$root")
[ -n "$backup_password" ] && [ "$(grep -rlF -- "$backup_password" "$root/opt/sbs")" = "$root/opt/sbs/.env" ] \
    && ! grep -rqF -- "$backup_password" "$root/var/log" "$root/var/lib/sbs" "$work/backup.out" \
    && pass "BACKUP_PASSWORD is kept in secrets.env and the deploy .env only (not in the logs, the state or the output)" \
    || fail "BACKUP_PASSWORD found outside secrets.env and .env"
# kill -9 in the middle of a backup (sbs and the restic and docker it runs, as a power cut would): the repository
# stays sound, the next backup runs (the killed restic's stale lock is removed), and the killed run is not listed.
"$sbs" backup --root "$root" >"$work/backup-killed.out" 2>&1 &
killed_sbs=$!
for _ in $(seq 1 200); do pgrep -f "restic --repo $repository .*backup" >/dev/null && break; sleep 0.05; done
kill -9 "$killed_sbs" $(pgrep -f "restic --repo $repository") $(pgrep -f "docker compose .*$project.* exec") 2>/dev/null
wait "$killed_sbs" 2>/dev/null || true
restic_e2e check >"$work/restic-check.out" 2>&1 && pass "restic check passes after a backup killed half-way" \
    || fail "restic check after the kill: $(tail -3 "$work/restic-check.out")"
"$sbs" backup --root "$root" >"$work/backup-after-kill.out" 2>&1 && pass "the next backup runs after the kill" \
    || fail "sbs backup after the kill: $(tail -3 "$work/backup-after-kill.out")"
[ "$("$sbs" backup list --root "$root" --json | wc -l)" = 2 ] && pass "sbs backup list shows the two finished backups, not the killed one" \
    || fail "backup list after the kill: $("$sbs" backup list --root "$root" 2>&1)"
# The database down: the dump fails; the run exits 1 naming it and leaves the repository's snapshots as they were.
before_snapshots=$(snapshot_count)
docker compose -p "$project" stop app-db >/dev/null 2>&1
if "$sbs" backup --root "$root" >"$work/backup-down.out" 2>&1; then fail "sbs backup exit 0 with the database stopped"; else pass "sbs backup fails with the database stopped: $(grep -m1 -i 'error\|failed' "$work/backup-down.out")"; fi
[ "$(snapshot_count)" = "$before_snapshots" ] && pass "the failed backup left the repository's $before_snapshots snapshots as they were" \
    || fail "snapshots before $before_snapshots, after $(snapshot_count)"
docker compose -p "$project" start app-db >/dev/null 2>&1
for _ in $(seq 1 60); do
    [ "$(docker inspect --format '{{.State.Health.Status}}' "$(docker compose -p "$project" ps -q app-db)")" = healthy ] && break
    sleep 1
done
# An install (or any run) holding the lock: a backup waits, then gives up with 75.
flock "$root/var/lib/sbs/lock" sleep 6 &
holder=$!
sleep 0.5
set +e
"$sbs" backup --root "$root" --wait-for-lock 1 >"$work/backup-locked.out" 2>&1
status=$?
set -e
wait "$holder"
[ "$status" = 75 ] && pass "a backup finding the lock held waits, then exits 75: $(grep -m1 'Another' "$work/backup-locked.out")" \
    || fail "backup with the lock held: exit $status: $(cat "$work/backup-locked.out")"

# Two backups at once (the nightly timer and one by hand): without waiting, one runs and the other gives up with 75;
# waiting, the second runs after the first. Never two runs' dumps in one backup.
race() { # wait-seconds → "status status" of two backups started together
    local first second s1 s2
    "$sbs" backup --root "$root" --wait-for-lock "$1" >"$work/race1.out" 2>&1 &
    first=$!
    "$sbs" backup --root "$root" --wait-for-lock "$1" >"$work/race2.out" 2>&1 &
    second=$!
    set +e
    wait "$first"; s1=$?
    wait "$second"; s2=$?
    set -e
    printf '%s\n%s\n' "$s1" "$s2" | sort -n | tr '\n' ' ' | sed 's/ $//'
}
runs() { "$sbs" backup list --root "$root" --json | python3 -c 'import json, sys; print(" ".join(json.loads(l)["run"] for l in sys.stdin if l.strip()))'; }
new_runs() { # runs-before → how many of the listed backups are new (retention keeps the two newest of a day)
    comm -13 <(tr ' ' '\n' <<<"$1" | sort) <(runs | tr ' ' '\n' | sort) | grep -c . || true
}
runs_before=$(runs)
statuses=$(race 0)
[ "$statuses" = "0 75" ] && [ "$(new_runs "$runs_before")" = 1 ] \
    && pass "two backups at once without waiting: one runs, the other exits 75: $(grep -m1 Another "$work/race1.out" "$work/race2.out" | cut -d: -f2- | cut -c1-90)" \
    || fail "two backups at once: exit statuses $statuses, $(new_runs "$runs_before") new"
runs_before=$(runs)
statuses=$(race 300)
"$sbs" backup list --root "$root" --json >"$work/backups-raced.json"
python3 - "$work/backups-raced.json" <<'PY' && [ "$statuses" = "0 0" ] && [ "$(new_runs "$runs_before")" = 2 ] \
    && pass "two backups at once, waiting: both run, one after the other, each with its own parts" || fail "two waiting backups: $statuses; $(new_runs "$runs_before") new"
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
files = [p["snapshot"] for e in entries for p in e["parts"] if p["name"] == "files"]
assert len(files) == len(entries) == len(set(files)), "a files snapshot in two backups"
for e in entries:
    names = [p["name"] for p in e["parts"]]
    assert len(names) == len(set(names)) and names.count("db/postgres.dump") == 1, e
# A dump is in two backups only when the database was in the same state for both (kept, not dumped again).
for a in entries:
    for b in entries:
        shared = {p["snapshot"] for p in a["parts"]} & {p["snapshot"] for p in b["parts"]}
        assert a is b or not shared or (a.get("databaseState") and a.get("databaseState") == b.get("databaseState")), (a, b)
PY

# An unchanged database is not read again: once nothing writes to it, a backup keeps the previous backup's dumps
# (the same snapshots, restored by backup --check); a row written, the next backup dumps again.
wal_idle() { # waits until app-db's write-ahead log has not moved for 40 s (at most 180 s)
    local last="" same=0
    for _ in $(seq 1 90); do
        lsn=$(psql_db -c "SELECT pg_current_wal_lsn()")
        if [ "$lsn" = "$last" ]; then same=$((same + 1)); [ "$same" -ge 20 ] && return 0; else same=0; last=$lsn; fi
        sleep 2
    done
    return 1
}
# What would otherwise write to the log between the two backups: autovacuum's analyze of the rows written above, and
# the next timed checkpoint (one is skipped only when nothing was logged since the last). After them, with
# wal_level logical, the background writer logs a snapshot of the running transactions (every 15 s while anything
# was logged since its last, waking at most every 10 s when idle): 40 s without a move covers it.
psql_db -c "VACUUM ANALYZE" >/dev/null
psql_db -c "CHECKPOINT" >/dev/null
wal_idle || fail "app-db's write-ahead log kept moving for 180 s"
"$sbs" backup --root "$root" >"$work/backup-idle1.out" 2>&1 || fail "sbs backup (idle): $(tail -3 "$work/backup-idle1.out")"
"$sbs" backup --root "$root" >"$work/backup-idle2.out" 2>&1 || fail "sbs backup (unchanged): $(tail -3 "$work/backup-idle2.out")"
"$sbs" backup list --root "$root" --json >"$work/backups-idle.json"
grep -q "has not changed since backup" "$work/backup-idle2.out" && ! grep -q "db/postgres.dump:" "$work/backup-idle2.out" \
    && python3 - "$work/backups-idle.json" <<'PY' && pass "an unchanged database: the backup keeps the previous backup's dumps ($(grep -o "its [0-9]* dumps (of backup [0-9TZ]*) are kept" "$work/backup-idle2.out"))" \
    || fail "unchanged database dumped again: $(grep -v '^sbs backup: files' "$work/backup-idle2.out" | tail -4)"
import json, sys
newest, previous = [json.loads(line) for line in open(sys.argv[1]) if line.strip()][:2]
dumps = lambda e: [(p["name"], p["snapshot"]) for p in e["parts"] if p["name"].startswith("db/")]
assert dumps(newest) == dumps(previous) and len(dumps(newest)) >= 2, (newest, previous)
PY
"$sbs" backup --check --root "$root" >"$work/backup-check-kept.out" 2>&1 \
    && pass "sbs backup --check restores the kept dumps: $(tail -1 "$work/backup-check-kept.out")" || fail "backup --check of kept dumps: $(tail -5 "$work/backup-check-kept.out")"
psql_db -c "UPDATE e2e_orders SET item = item || ' (changed)' WHERE id = 1" >/dev/null
"$sbs" backup --root "$root" >"$work/backup-changed.out" 2>&1 && grep -q "db/postgres.dump:" "$work/backup-changed.out" \
    && ! grep -q "has not changed" "$work/backup-changed.out" && pass "a row changed: the next backup dumps the database again" \
    || fail "backup after a change: $(tail -4 "$work/backup-changed.out")"
psql_db -c "UPDATE e2e_orders SET item = 'order 1' WHERE id = 1" >/dev/null

say "2f. backups to an sftp server; the installation destroyed, sbs restore on a new root from there"
anon_before=$("$sbs" secrets show SUPABASE_ANON_KEY --root "$root")
serial_before=$(openssl x509 -in "$root/etc/sbs/ssl/live/shop.e2e.test/cert.pem" -noout -serial)
# What a consultant keeps away from the server: the repository's password (and the repository, on the sftp server).
(umask 077 && "$sbs" secrets show BACKUP_PASSWORD --root "$root" >"$work/backup-password")
cp scripts/test/stack/minimum.yaml "$work/minimum-sftp.yaml"
printf 'backups:\n  repository: %s\n  sftp:\n    port: 14220\n    identity_file: %s\n    known_hosts: %s\n' \
    "$sftp_repository" "$work/ssh/id" "$work/ssh/known_hosts" >>"$work/minimum-sftp.yaml"
"$sbs" install --answers "$work/minimum-sftp.yaml" --non-interactive --root "$root" >"$work/install-sftp.out" 2>&1 \
    && pass "the installation now backs up to $sftp_repository" || fail "install with the sftp repository: $(tail -5 "$work/install-sftp.out")"
if "$sbs" backup --root "$root" >"$work/backup-sftp.out" 2>&1; then pass "sbs backup over sftp: $(tail -1 "$work/backup-sftp.out")"; else fail "sbs backup over sftp: $(tail -5 "$work/backup-sftp.out")"; fi
[ "$(restic_sftp snapshots --json --tag sbs-manifest | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" = 1 ] \
    && pass "the sftp repository holds the backup (restic through the answers' key and known hosts)" || fail "no backup in the sftp repository"
down "$root"
rm -rf "$root"
restored=$work/root-restored
if "$sbs" restore --root "$restored" --repository "$sftp_repository" "${sftp_options[@]}" --password-file "$work/backup-password" \
        >"$work/restore.out" 2>&1; then
    pass "sbs restore on an empty root exit 0: $(tail -1 "$work/restore.out")"
else
    fail "sbs restore failed: $(tail -8 "$work/restore.out")"
fi
restored_project=$(project_of "$restored")
psql_restored() { docker compose -p "$restored_project" exec -T app-db psql -U postgres -At "$@"; }
[ "$(psql_restored -c 'SELECT count(*) FROM e2e_orders' 2>&1)" = 250 ] \
    && pass "the restored database holds the 250 rows written before the backup" \
    || fail "rows after the restore: $(psql_restored -c 'SELECT count(*) FROM e2e_orders' 2>&1)"
[ "$("$sbs" secrets show SUPABASE_ANON_KEY --root "$restored")" = "$anon_before" ] && [ -n "$anon_before" ] \
    && pass "the anon key is the one of the destroyed installation" || fail "the anon key changed with the restore"
[ "$(openssl x509 -in "$restored/etc/sbs/ssl/live/shop.e2e.test/cert.pem" -noout -serial)" = "$serial_before" ] \
    && pass "the certificate came back from the backup (no new one was ordered)" || fail "the certificate differs after the restore"
"$sbs" verify --json --root "$restored" >"$work/verify-restored.json" 2>/dev/null \
    && pass "verify passes on the restored installation" || fail "verify after the restore: $(cat "$work/verify-restored.json")"
[ ! -e "$restored/var/lib/sbs/restore.json" ] && [ ! -e "$restored/var/lib/sbs/restore-files" ] \
    && grep -qF "$sftp_repository" "$restored/etc/sbs/answers.yaml" \
    && pass "the restore's record and staging folder are gone; the restored answers back up to the sftp server" || fail "restore leftovers in $restored/var/lib/sbs, or answers: $(grep -A5 '^backups' "$restored/etc/sbs/answers.yaml")"
# The deploy .env holds every secret; the one it replaced (rendered for the old root's compose project) is kept
# with the earlier configs under var/lib/sbs/backups, 0700 like /etc/sbs.
! grep -rqF --exclude-dir=backups -- "$(cat "$work/backup-password")" "$work/restore.out" "$restored/var/log" "$restored/var/lib/sbs" \
    && [ "$(stat -c %a "$restored/var/lib/sbs/backups")" = 700 ] \
    && pass "the repository's password is in no output, log or state of the restore (earlier .env files kept 0700)" || fail "BACKUP_PASSWORD leaked by the restore"
# Over a running installation: refused without --force, and with a wrong confirmation; nothing changes.
psql_restored -c "INSERT INTO e2e_orders (item) VALUES ('written after the backup')" >/dev/null
set +e
"$sbs" restore --root "$restored" --repository "$sftp_repository" "${sftp_options[@]}" --password-file "$work/backup-password" >"$work/restore-refused.out" 2>&1
status=$?
"$sbs" restore --root "$restored" --repository "$sftp_repository" "${sftp_options[@]}" --password-file "$work/backup-password" --force --confirm other.example >"$work/restore-wrong.out" 2>&1
status_wrong=$?
set -e
[ "$status" = 1 ] && grep -q -- "--force" "$work/restore-refused.out" && [ "$status_wrong" = 1 ] && grep -q "not this installation's domain" "$work/restore-wrong.out" \
    && [ "$(psql_restored -c 'SELECT count(*) FROM e2e_orders')" = 251 ] \
    && pass "a restore over a running installation is refused without --force and with a wrong domain; the database is untouched" \
    || fail "restore over an installation: exit $status/$status_wrong: $(tail -2 "$work/restore-refused.out") / $(tail -2 "$work/restore-wrong.out")"
# --force with the domain: what it replaces is backed up first (the row written since), then the backup's data is back.
# kill -9 in the middle (during the database's restore): `sbs restore` again finishes the same restore.
backups_before=$({ "$sbs" backup list --root "$restored" --json 2>/dev/null || true; } | wc -l)
"$sbs" restore --root "$restored" --repository "$sftp_repository" "${sftp_options[@]}" --password-file "$work/backup-password" --force --confirm shop.e2e.test \
    >"$work/restore-killed.out" 2>&1 &
killed_sbs=$!
for _ in $(seq 1 1200); do pgrep -f "pg_restore -U postgres -d template1" >/dev/null && break; sleep 0.1; done
pgrep -f "pg_restore -U postgres -d template1" >/dev/null && pass "the forced restore reached the database's restore" || fail "pg_restore never ran: $(tail -5 "$work/restore-killed.out")"
kill -9 "$killed_sbs" $(pgrep -f "restic --repo $sftp_repository") $(pgrep -f "docker compose .*$restored_project.* exec") 2>/dev/null
wait "$killed_sbs" 2>/dev/null || true
restic_sftp check >"$work/restic-check2.out" 2>&1 \
    && pass "restic check passes after a restore killed half-way" || fail "restic check after the killed restore: $(tail -3 "$work/restic-check2.out")"
"$sbs" status --root "$restored" 2>&1 | grep -q "^A restore of backup [0-9TZ]* from .* is under way (files back, database not back yet)" \
    && pass "sbs status says the killed restore is under way and what finishes it" || fail "status after the killed restore: $("$sbs" status --root "$restored" 2>&1 | head -3)"
if "$sbs" restore --root "$restored" --repository "$sftp_repository" "${sftp_options[@]}" --password-file "$work/backup-password" >"$work/restore-again.out" 2>&1; then
    pass "sbs restore again after the kill: exit 0"
else
    fail "sbs restore after the kill: $(tail -8 "$work/restore-again.out")"
fi
[ "$(psql_restored -c 'SELECT count(*) FROM e2e_orders' 2>&1)" = 250 ] \
    && pass "after the forced restore the database is the backup's again (250 rows)" \
    || fail "rows after the forced restore: $(psql_restored -c 'SELECT count(*) FROM e2e_orders' 2>&1)"
grep -q "backing up the installation it replaces first" "$work/restore-killed.out" \
    && [ "$({ "$sbs" backup list --root "$restored" --json 2>/dev/null || true; } | wc -l)" -gt "$backups_before" ] \
    && pass "the forced restore backed up what it replaced first" || fail "no backup before the forced restore: $(head -5 "$work/restore-killed.out")"
ls -d "$restored"/var/lib/sbs/replaced-*/etc-sbs >/dev/null 2>&1 \
    && pass "the replaced /etc/sbs is kept aside ($(ls -d "$restored"/var/lib/sbs/replaced-* | head -1))" || fail "no replaced folder kept"
"$sbs" verify --json --root "$restored" >"$work/verify-restored2.json" 2>/dev/null \
    && pass "verify passes after the forced restore" || fail "verify after the forced restore: $(cat "$work/verify-restored2.json")"
root=$restored

say "2f2. backups to restic's REST server with a login (rclone serve restic on 127.0.0.1:14230); the upgrade below backs up and restores through it"
rest_password="rest-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
(umask 077 && printf '%s\n' "$rest_password" >"$work/rest-password")
setsid rclone serve restic --addr 127.0.0.1:14230 --user sbs --pass "$rest_password" "$work/rest-served" \
    >"$work/rclone.log" 2>&1 </dev/null &
echo $! >"$work/rclone.pid"
for _ in $(seq 1 50); do curl -s -o /dev/null http://127.0.0.1:14230/ && break; sleep 0.1; done
rest_repository="rest:http://127.0.0.1:14230/shop/"
restic_rest() { # the REST repository by hand, the login in its URL
    restic --repo "rest:http://sbs:$rest_password@127.0.0.1:14230/shop/" --password-file "$work/backup-password" \
        --cache-dir "$work/restic-cache" "$@"
}
cp scripts/test/stack/minimum.yaml "$work/minimum-rest.yaml"
printf 'backups:\n  repository: %s\n  rest:\n    user: sbs\n    password: file:%s\n' "$rest_repository" "$work/rest-password" \
    >>"$work/minimum-rest.yaml"
"$sbs" install --answers "$work/minimum-rest.yaml" --non-interactive --root "$root" >"$work/install-rest.out" 2>&1 \
    && pass "the installation now backs up to $rest_repository" || fail "install with the REST repository: $(tail -5 "$work/install-rest.out")"
if "$sbs" backup --root "$root" >"$work/backup-rest.out" 2>&1; then pass "sbs backup to the REST server: $(tail -1 "$work/backup-rest.out")"; else fail "sbs backup to the REST server: $(tail -5 "$work/backup-rest.out")"; fi
[ "$(restic_rest snapshots --json --tag sbs-manifest | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" = 1 ] \
    && pass "the REST server holds the backup, behind its login" || fail "no backup on the REST server"
# The login's password: in secrets.env and the 0600 file restic reads, nowhere else (outputs, logs, state, deploy folder).
holders=$(grep -rlF -- "$rest_password" "$root" "$work"/install-rest.out "$work"/backup-rest.out 2>/dev/null | sort | tr '\n' ' ')
access_file=$(find "$root/var/lib/sbs/restic-access" -name "rest-*" 2>/dev/null | head -1)
[ "$holders" = "$root/etc/sbs/secrets.env $access_file " ] && [ "$(stat -c %a "$access_file")" = 600 ] \
    && pass "the REST password is only in secrets.env and $(basename "$access_file") (0600)" || fail "the REST password is in: $holders"

say "2g. sbs upgrade --to 2.0.0 (web, and the API from the private registry), then to a broken web with a migrating database: back on the previous images and data, exit 1"
project=$(project_of "$root")
image_of() { docker inspect --format '{{.Config.Image}}' "$(docker compose -p "$project" ps -q "$1")"; }
# The new versions, built FROM the stand-ins on this engine (no registry): a web 2.0.0 that works; a web 2.0.1 that
# answers 500 to everything (never healthy); an app-db whose entrypoint adds a column once PostgreSQL answers, as a
# new version's migration would.
DOCKER_BUILDKIT=0 docker build -q -t orchestrator-ai/web:2.0.0 - >/dev/null <<'DOCKERFILE'
FROM orchestrator-ai/web:1.0.0
LABEL sbs.e2e.version=2.0.0
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t orchestrator-ai/web:2.0.1 - >/dev/null <<'DOCKERFILE'
FROM orchestrator-ai/web:1.0.0
ENTRYPOINT ["node", "-e", "require('http').createServer((request, response) => { response.statusCode = 500; response.end('broken'); }).listen(3000)"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t supabase/postgres:15.1.0.117-migrating - >/dev/null <<'DOCKERFILE'
FROM supabase/postgres:15.1.0.117
RUN printf '#!/bin/sh\n(until pg_isready -q; do sleep 1; done; psql -U postgres -c "ALTER TABLE e2e_orders ADD COLUMN IF NOT EXISTS v2_note text") >/tmp/migration.log 2>&1 &\nexec docker-entrypoint.sh "$@"\n' >/usr/local/bin/migrate-then-start.sh \
    && chmod 755 /usr/local/bin/migrate-then-start.sh
ENTRYPOINT ["migrate-then-start.sh"]
DOCKERFILE
# The API's 2.0.0 only in the private registry: `sbs upgrade --to 2.0.0` pulls it with the answers' credentials.
DOCKER_BUILDKIT=0 docker build -q -t 127.0.0.1:14210/orchestrator-ai/api:2.0.0 - >/dev/null <<'DOCKERFILE'
FROM orchestrator-ai/api:1.0.0
LABEL sbs.e2e.version=2.0.0
DOCKERFILE
DOCKER_CONFIG=$registry/client docker push --quiet 127.0.0.1:14210/orchestrator-ai/api:2.0.0 >/dev/null
docker rmi 127.0.0.1:14210/orchestrator-ai/api:2.0.0 >/dev/null
"$sbs" upgrade --root "$root" --to 2.0.0 >"$work/upgrade.out" 2>&1 \
    && pass "sbs upgrade --to 2.0.0: $(tail -1 "$work/upgrade.out")" || fail "sbs upgrade --to 2.0.0: $(tail -8 "$work/upgrade.out")"
[ "$(image_of app-web)" = orchestrator-ai/web:2.0.0 ] && [ "$(image_of app-api)" = 127.0.0.1:14210/orchestrator-ai/api:2.0.0 ] \
    && grep -q "sbs upgrade: backing up the installation first" "$work/upgrade.out" \
    && pass "app-web and app-api run 2.0.0 (the API pulled from the private registry), after a backup" \
    || fail "after --to 2.0.0: app-web $(image_of app-web), app-api $(image_of app-api)"
"$sbs" upgrade --root "$root" --to 2.0.0 2>&1 | grep -q "nothing to upgrade" \
    && pass "the same upgrade again changes nothing" || fail "a second upgrade to the same version did something"
printf 'version: 1\nimages:\n  app-web: orchestrator-ai/web:2.0.1\n  app-db: supabase/postgres:15.1.0.117-migrating\n' >"$work/upgrade-broken.yaml"
set +e
"$sbs" upgrade --root "$root" --images "$work/upgrade-broken.yaml" >"$work/upgrade-broken.out" 2>&1
status=$?
set -e
[ "$status" = 1 ] && grep -q "The upgrade failed at start-stack" "$work/upgrade-broken.out" && grep -q "app-web.*unhealthy" "$work/upgrade-broken.out" \
    && ! grep -q "sbs resume" "$work/upgrade-broken.out" \
    && pass "the broken upgrade exits 1 naming the step and the service: $(grep -m1 -o 'app-web[^|]*unhealthy' "$work/upgrade-broken.out")" \
    || fail "broken upgrade: exit $status: $(tail -8 "$work/upgrade-broken.out")"
grep -q "schema changed during the upgrade: it is restored from backup" "$work/upgrade-broken.out" \
    && pass "the rollback says the migrated database is restored from the backup made first" || fail "no database restore announced: $(grep 'sbs upgrade' "$work/upgrade-broken.out")"
[ "$(image_of app-web)" = orchestrator-ai/web:2.0.0 ] && [ "$(image_of app-db)" = supabase/postgres:15.1.0.117 ] \
    && pass "the stack runs the previous images again (web 2.0.0, postgres 15.1.0.117)" || fail "after the rollback: app-web $(image_of app-web), app-db $(image_of app-db)"
[ "$(psql_restored -c "SELECT count(*) FROM information_schema.columns WHERE table_name = 'e2e_orders' AND column_name = 'v2_note'")" = 0 ] \
    && [ "$(psql_restored -c 'SELECT count(*) FROM e2e_orders')" = 250 ] \
    && pass "the database is as before the upgrade: 250 rows, no migrated column" \
    || fail "after the rollback: $(psql_restored -c '\d e2e_orders' 2>&1 | tail -3)"
"$sbs" verify --root "$root" >/dev/null 2>&1 && pass "verify passes after the rollback" || fail "verify fails after the rollback"

say "2h. sbs alerts test: a test alert reaches a person through the mail relay"
# The relay: scripts/test/smtp-sink.py in a container on the stack's egress network, where it is mail.e2e.test, with
# STARTTLS (a certificate for that name) and a login. Alertmanager trusts that certificate as it would a public CA's:
# it is signed by the test CA that the stand-in Alertmanager's CA file holds (its root is read-only: nothing can be
# added to it at run time), scripts/test/stand-ins/alertmanager/relay-ca.pem and scripts/test/stack/relay-ca.key.
project=$(project_of "$root")
mail=$work/mail
mkdir -p "$mail/relay"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=mail.e2e.test \
    -keyout "$mail/relay.key" -out "$mail/relay.csr" 2>/dev/null
printf 'subjectAltName=DNS:mail.e2e.test\nextendedKeyUsage=serverAuth\n' >"$mail/relay.ext"
openssl x509 -req -in "$mail/relay.csr" -CA scripts/test/stand-ins/alertmanager/relay-ca.pem \
    -CAkey scripts/test/stack/relay-ca.key -CAserial "$mail/relay-ca.srl" -CAcreateserial -days 2 \
    -extfile "$mail/relay.ext" -out "$mail/relay.pem" 2>/dev/null
chmod 644 "$mail/relay.key"
export SBS_E2E_SMTP_PASSWORD='relay pass # $ e2e'
cp "$work/minimum-rest.yaml" "$work/minimum-alerts.yaml"
cat >>"$work/minimum-alerts.yaml" <<'YAML'
smtp:
  host: mail.e2e.test
  port: 587
  user: alerts@e2e.test
  password: env:SBS_E2E_SMTP_PASSWORD
  sender: sbs@e2e.test
alerts:
  email: [owner@e2e.test]
  # Short, for the test only (5m each by default): a service down 20 s is an alert, its resolution mailed 20 s on.
  down_for: 20s
  group_interval: 20s
YAML
"$sbs" install --answers "$work/minimum-alerts.yaml" --non-interactive --root "$root" >"$work/install-alerts.out" 2>&1 \
    && pass "the installation now alerts owner@e2e.test through mail.e2e.test" || fail "install with alerts: $(tail -5 "$work/install-alerts.out")"
docker run -d --name sbs-e2e-smtp --network "${project}_egress" --network-alias mail.e2e.test \
    -v "$PWD/scripts/test/smtp-sink.py:/smtp-sink.py:ro" -v "$mail:/mail" local/sbs-standin-base \
    python3 /smtp-sink.py 587 /mail/relay --login alerts@e2e.test "$SBS_E2E_SMTP_PASSWORD" \
    --tls /mail/relay.pem /mail/relay.key --listen 0.0.0.0 >/dev/null
"$sbs" alerts test --root "$root" --timeout 60 >"$work/alerts-test.out" 2>&1 \
    && grep -q "^email: accepted" "$work/alerts-test.out" \
    && pass "sbs alerts test: the relay accepted the test alert" || fail "sbs alerts test: $(tail -6 "$work/alerts-test.out")"
alert_mail=$(find "$mail/relay" -name '*.eml' | head -1)
[ -n "$alert_mail" ] && grep -q '^Subject: \[FIRING:1\] SBSTest ' "$alert_mail" && grep -q '^X-Sink-To: <owner@e2e.test>' "$alert_mail" \
    && grep -q '^X-Sink-TLS: yes' "$alert_mail" && grep -q '^X-Sink-Login: alerts@e2e.test' "$alert_mail" \
    && pass "the test alert's mail reached owner@e2e.test over STARTTLS, after the relay's login" \
    || fail "the relay's mail: $(ls "$mail/relay"); $(head -12 "${alert_mail:-/dev/null}")"

say "2i. a service down, then back: the monitoring mails both, as the answers' timings say"
# What the alerts read: blackbox-exporter's probes (SiteDown) and the containers' states that `sbs metrics` writes
# for node-exporter's textfile collector (ServiceNotRunning; sbs-metrics.timer runs it every minute where systemd
# runs, here by hand). Prometheus scrapes and evaluates every 60 s on the minimum profile: a mail takes minutes.
# Subjects as Alertmanager writes them, unfolded and decoded (a long header may be folded).
subjects() {
    python3 - "$mail/relay" <<'PY'
import email, email.header, glob, sys
for path in sorted(glob.glob(sys.argv[1] + "/*.eml")):
    subject = email.message_from_binary_file(open(path, "rb"))["Subject"] or ""
    print(str(email.header.make_header(email.header.decode_header(subject))).replace("\r\n", "").replace("\n", ""))
PY
}
await_subjects() { # SECONDS PATTERN… → 0 once every pattern matches a subject (grep -E)
    local limit=$1 pattern missing
    shift
    for _ in $(seq 1 $((limit / 5))); do
        subjects >"$work/subjects.txt"
        missing=0
        for pattern in "$@"; do grep -Eq "$pattern" "$work/subjects.txt" || missing=1; done
        [ "$missing" = 0 ] && return 0
        sleep 5
    done
    return 1
}
container_of() { docker ps -q --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$1"; }
# A crash: the exporter's process killed from outside, as the kernel's OOM killer would. The engine restarts it
# (restart: unless-stopped) and counts the restart; `sbs metrics` reads the count.
exporter=$(container_of postgres-exporter)
kill -9 "$(docker inspect -f '{{.State.Pid}}' "$exporter")"
for _ in $(seq 1 30); do
    [ "$(docker inspect -f '{{.State.Running}} {{.RestartCount}}' "$exporter")" = "true 1" ] && break
    sleep 1
done
web=$(container_of app-web)
docker stop "$web" >/dev/null
"$sbs" metrics --root "$root" >"$work/metrics-down.out" 2>&1 \
    && python3 - "$root/var/lib/sbs/metrics/sbs-containers.prom" <<'PY' \
    && pass "sbs metrics: $(cat "$work/metrics-down.out")" || fail "sbs metrics with app-web stopped: $(cat "$work/metrics-down.out")"
import re, sys
text = open(sys.argv[1]).read()
def value(name, service):
    found = re.findall(r'^%s\{service="%s",container="[^"]+"\} (\S+)$' % (name, service), text, re.M)
    assert len(found) == 1, (name, service, found)
    return float(found[0])
assert value("sbs_service_running", "app-web") == 0 and value("sbs_service_healthy", "app-web") == 0, text
assert value("sbs_service_running", "app-db") == 1 and value("sbs_service_healthy", "app-db") == 1, text
assert value("sbs_service_restarts_total", "postgres-exporter") == 1, text
assert value("sbs_service_restarts_total", "app-db") == 0, text
PY
await_subjects 360 '^\[FIRING:1\] SiteDown https://shop\.e2e\.test/ ' '^\[FIRING:1\] ServiceNotRunning .*app-web' \
    && pass "app-web stopped: the SiteDown and ServiceNotRunning mails reached owner@e2e.test" \
    || fail "no down mails; the relay has: $(subjects | tr '\n' ';')"
# Prometheus read the containers' states from node-exporter: the restart it counted too.
in_prometheus 'http://127.0.0.1:9090/api/v1/query?query=sbs_service_restarts_total%7Bservice%3D%22postgres-exporter%22%7D' \
    | python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; assert [s["value"][1] for s in r] == ["1"], r' \
    && pass "Prometheus has the exporter's restart (sbs_service_restarts_total 1)" || fail "Prometheus has no restart count"
docker start "$web" >/dev/null
for _ in $(seq 1 60); do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$web")" = healthy ] && break
    sleep 1
done
"$sbs" metrics --root "$root" --quiet
await_subjects 360 '^\[RESOLVED\] SiteDown https://shop\.e2e\.test/ ' '^\[RESOLVED\] ServiceNotRunning .*app-web' \
    && pass "app-web back: the resolved mails followed" || fail "no resolved mails; the relay has: $(subjects | tr '\n' ';')"
# One mail per problem: the same alert was not mailed twice while it lasted.
[ "$(subjects | grep -Ec '^\[FIRING:1\] SiteDown https://shop\.e2e\.test/ ')" = 1 ] \
    && pass "one firing mail for the home page's probe" || fail "firing mails: $(subjects | tr '\n' ';')"
# A certificate with 10 days left: CertificateExpiresSoon is mailed, whatever the renewals said. The leaf is signed by
# the CA of Pebble's listener, which the answers' bundle holds, so the probe still verifies the chain; nginx serves
# it alone (the CA's own 2 days would otherwise be the earliest expiry). The served files are put back afterwards.
subjects >"$work/subjects.txt"
grep -q CertificateExpiresSoon "$work/subjects.txt" \
    && fail "CertificateExpiresSoon before the short certificate: $(subjects | tr '\n' ';')" \
    || pass "no expiry mail while Pebble's certificate is served"
live_dir=$root/etc/sbs/ssl/live/shop.e2e.test
cp "$live_dir/fullchain.pem" "$work/fullchain.keep"
cp "$live_dir/privkey.pem" "$work/privkey.keep"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=shop.e2e.test \
    -keyout "$work/short.key" -out "$work/short.csr" 2>/dev/null
printf 'subjectAltName=DNS:shop.e2e.test,DNS:www.shop.e2e.test\nextendedKeyUsage=serverAuth\n' >"$work/short.ext"
openssl x509 -req -in "$work/short.csr" -CA "$pebble_dir/ca.pem" -CAkey "$pebble_dir/ca.key" -CAcreateserial \
    -days 10 -extfile "$work/short.ext" -out "$work/short.pem" 2>/dev/null
cat "$work/short.pem" >"$live_dir/fullchain.pem" # through the live link, into the version nginx serves
cat "$work/short.key" >"$live_dir/privkey.pem"
docker compose -p "$project" exec -T nginx nginx -s reload >/dev/null 2>&1
await_subjects 300 '^\[FIRING:1\] CertificateExpiresSoon https://shop\.e2e\.test/ ' \
    && pass "a certificate with 10 days left: the CertificateExpiresSoon mail reached owner@e2e.test" \
    || fail "no expiry mail; the relay has: $(subjects | tr '\n' ';')"
cat "$work/fullchain.keep" >"$live_dir/fullchain.pem"
cat "$work/privkey.keep" >"$live_dir/privkey.pem"
docker compose -p "$project" exec -T nginx nginx -s reload >/dev/null 2>&1

docker rm -f sbs-e2e-smtp >/dev/null 2>&1
# With no relay to answer, the command says so and exits 1 (a new alert: the relay is gone). Whether Alertmanager's
# attempt has failed within the 8 s depends on how fast the name stops resolving, so "N refused" may follow or not.
set +e
"$sbs" alerts test --root "$root" --timeout 8 >"$work/alerts-test-down.out" 2>&1
status=$?
set -e
[ "$status" = 1 ] && grep -Eqx "email: NOT accepted within 8 s(, [0-9]+ refused)?" "$work/alerts-test-down.out" \
    && pass "without a relay, sbs alerts test exits 1: $(grep -m1 '^email' "$work/alerts-test-down.out")" \
    || fail "alerts test without a relay: exit $status: $(tail -4 "$work/alerts-test-down.out")"

say "2j. sbs migrate from a hosted Supabase look-alike (a real PostgreSQL on loopback) into the stack's database"
# The source: Tests/Fixtures/migrate/source.sql (users with bcrypt hashes, the product's tables, foreign keys into
# auth.users); the stack's app-db is written through `docker compose exec`, its auth tables made by the stand-in
# GoTrue as GoTrue's migrations make them. A migrated user then logs in through nginx, Kong and GoTrue.
scripts/test/pg-pair.sh start "$work/pg" >/dev/null && scripts/test/pg-pair.sh seed "$work/pg" 20000 2>/dev/null \
    && pass "a source PostgreSQL seeded as a hosted project" || fail "pg-pair.sh could not start or seed a source"
pg_source=$(sed -n 's/^SOURCE_URL=//p' "$work/pg/env")
pg_password=$(sed -n 's/^SOURCE_PASSWORD_FILE=//p' "$work/pg/env")
"$sbs" migrate --root "$root" --from "$pg_source" --password "file:$pg_password" --dry-run >"$work/migrate-plan.out" 2>&1 \
    && grep -q '^Dry run: nothing was written' "$work/migrate-plan.out" && [ ! -e "$root/var/lib/sbs/migration.json" ] \
    && pass "sbs migrate --dry-run shows the plan and writes nothing" || fail "migrate --dry-run: $(tail -5 "$work/migrate-plan.out")"
migrate_status=0
"$sbs" migrate --root "$root" --from "$pg_source" --password "file:$pg_password" --yes --json \
    >"$work/migrate.json" 2>"$work/migrate.err" || migrate_status=$?
[ "$migrate_status" = 0 ] && python3 - "$work/migrate.json" <<'PY' \
    && pass "sbs migrate into app-db: every table equal on both sides" \
    || fail "sbs migrate (exit $migrate_status): $(tail -5 "$work/migrate.err"); $(head -c 600 "$work/migrate.json")"
import json, sys
report = json.load(open(sys.argv[1]))
tables = {t["table"]: t for t in report["tables"]}
assert report["passed"] and all(t["equal"] for t in tables.values()), report
assert {"auth.users", "auth.identities", "public.tasks", "public.events"} <= set(tables), tables.keys()
assert tables["auth.users"]["serverRows"] == 5 and tables["public.events"]["serverRows"] > 15000, tables
PY
grep -q "SUPABASE_ANON_KEY" "$work/migrate.err" && ! grep -q "$(cat "$pg_password")" "$work/migrate.err" "$work/migrate.json" \
    && pass "it points at the server's anon key, and the source's password is nowhere in its output" \
    || fail "migrate's closing note: $(tail -3 "$work/migrate.err")"
login() {
    curl -s -o "$work/login.json" -w '%{http_code}' --cacert "$pebble_dir/bundle.pem" --resolve shop.e2e.test:443:127.0.0.1 \
        -H 'Content-Type: application/json' -d "{\"email\": \"$1\", \"password\": \"$2\"}" \
        'https://shop.e2e.test/auth/v1/token?grant_type=password'
}
code=$(login user2@example.com password-2)
[ "$code" = 200 ] && grep -q '"user2@example.com"' "$work/login.json" \
    && pass "a migrated user logs in with the password of the hosted project (through nginx, Kong, GoTrue)" \
    || fail "login of a migrated user: $code $(head -c 300 "$work/login.json")"
code=$(login user2@example.com password-3)
[ "$code" = 400 ] && pass "a wrong password is refused (400)" || fail "a wrong password: $code"
"$sbs" migrate --root "$root" --from "$pg_source" --password "file:$pg_password" --yes --json >"$work/migrate-again.json" 2>/dev/null \
    && python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert r["passed"] and not any(t["copiedNow"] for t in r["tables"])' "$work/migrate-again.json" \
    && pass "sbs migrate again: nothing copied, every table verified again" || fail "the second sbs migrate: $(head -c 400 "$work/migrate-again.json")"
scripts/test/pg-pair.sh stop "$work/pg"

say "3a. the stand-ins keep to the containers' privileges: one taken away, each fails for that reason"
# The stack above runs with exactly the declared privileges (sbs verify's privileges check passed), so each stand-in
# starts with them. Without one of them, the stand-in must fail as the real image would: a stand-in that needed
# more than its real image could not show that the declared set is enough.
deploy=$root/opt/sbs
image_of() { scripts/test/stand-in-images.sh list | awk -v s="$1" '$1 == s { print $2 }'; }
hardened=(--cap-drop ALL --security-opt no-new-privileges:true)
standin_fails() { # description expected-output-regex docker-run-arguments…
    local what=$1 expected=$2 out status
    shift 2
    set +e
    out=$(timeout 60 docker run --rm "${hardened[@]}" "$@" 2>&1)
    status=$?
    set -e
    if [ $status -ne 0 ] && [ $status -ne 124 ] && printf '%s' "$out" | grep -Eq "$expected"; then
        pass "$what: exit $status, $(printf '%s' "$out" | grep -Em1 "$expected")"
    else
        fail "$what: exit $status: $(printf '%s' "$out" | tail -3)"
    fi
}
nginx_run=(--read-only --tmpfs /run --tmpfs /tmp -v "$deploy/nginx:/etc/nginx/sbs:ro")
# (Not NET_BIND_SERVICE: Docker since 20.10 lets a container bind ports below 1024 without it.)
standin_fails "nginx without CHOWN cannot give its temporary folders to the worker user" "chown\\(.*\\) failed \\(1: Operation not permitted" \
    --cap-add NET_BIND_SERVICE --cap-add SETUID --cap-add SETGID --tmpfs /var/cache/nginx "${nginx_run[@]}" "$(image_of nginx)" \
    timeout 10 nginx -c /etc/nginx/sbs/bootstrap.conf -g "daemon off;"
standin_fails "nginx read-only without its /var/cache/nginx tmpfs cannot make its temporary folders" "Read-only file system" \
    --cap-add CHOWN --cap-add SETUID --cap-add SETGID --cap-add NET_BIND_SERVICE "${nginx_run[@]}" "$(image_of nginx)" \
    timeout 10 nginx -c /etc/nginx/sbs/bootstrap.conf -g "daemon off;"
standin_fails "Kong read-only without its /tmp tmpfs cannot prepare its prefix" "could not prepare Kong prefix.*Read-only file system" \
    --read-only -e KONG_DATABASE=off -e KONG_PREFIX=/tmp/kong \
    -e KONG_DECLARATIVE_CONFIG=/etc/sbs/kong/kong.yml -v "$deploy/kong:/etc/sbs/kong:ro" "$(image_of kong)" \
    timeout 10 kong docker-start
standin_fails "app-db without SETUID cannot switch to postgres" "Operation not permitted" \
    --cap-add CHOWN --cap-add DAC_READ_SEARCH --cap-add FOWNER --cap-add SETGID -e POSTGRES_PASSWORD=unused \
    --tmpfs /var/lib/postgresql/data "$(image_of postgres)" postgres

say "3. a container stopped by hand, one started beside the stack with a published port, app-api given SYS_ADMIN by a hand edit: verify names each"
web=$(docker ps -q --filter "label=com.docker.compose.project=$(project_of "$root")" --filter label=com.docker.compose.service=app-web)
docker stop "$web" >/dev/null
docker rm -f sbs-e2e-beside >/dev/null 2>&1 || true
docker run -d --name sbs-e2e-beside -p 0.0.0.0:19999:80 "$(image_of nginx)" sleep 600 >/dev/null
cp "$deploy/docker-compose.yml" "$work/compose.keep"
python3 - "$deploy/docker-compose.yml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
assert "\n  app-api:\n" in text
open(path, "w").write(text.replace("\n  app-api:\n", "\n  app-api:\n    cap_add: [SYS_ADMIN]\n", 1))
PY
docker compose -p "$(project_of "$root")" --project-directory "$deploy" up -d --no-deps app-api >/dev/null 2>&1 \
    || fail "app-api not recreated with the hand edit"
set +e
"$sbs" verify --root "$root" >"$work/verify-stopped.out" 2>&1
status=$?
set -e
cat "$work/verify-stopped.out"
[ $status -ne 0 ] && pass "verify exits $status" || fail "verify exit 0 with app-web stopped"
grep -q "app-web" "$work/verify-stopped.out" && pass "verify names app-web" || fail "verify does not name app-web"
grep -Eq "^published-ports +FAIL .*sbs-e2e-beside \*?[0-9.]*:19999→80/tcp" "$work/verify-stopped.out" \
    && pass "verify's published-ports names the container started beside the stack" || fail "published-ports did not name sbs-e2e-beside"
grep -Eq "^privileges +FAIL .*app-api-1: capabilities beyond its own: SYS_ADMIN" "$work/verify-stopped.out" \
    && pass "verify's privileges check names app-api's extra capability" || fail "privileges did not name app-api's SYS_ADMIN"
docker rm -f sbs-e2e-beside >/dev/null 2>&1
cp "$work/compose.keep" "$deploy/docker-compose.yml"
# The monitoring sees it too: blackbox-exporter's probe of the home page fails (nginx answers 502).
grep -Eq "^monitoring-targets +FAIL .*site https://shop.e2e.test/: the probe failed \(probe_success 0\)" "$work/verify-stopped.out" \
    && pass "verify's monitoring check names the failed probe of the home page" || fail "monitoring-targets did not see app-web stopped"

say "3b. sbs uninstall keeps the data; --purge removes it after the domain, never the backups"
project=$(project_of "$root")
"$sbs" uninstall --root "$root" >"$work/uninstall.out" 2>&1 && pass "sbs uninstall exit 0" || fail "sbs uninstall: $(tail -3 "$work/uninstall.out")"
[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$project")" ] && [ ! -e "$root/etc/systemd/system/sbs-backup.timer" ] \
    && docker volume inspect "${project}_postgres_data" >/dev/null 2>&1 && [ -f "$root/etc/sbs/secrets.env" ] \
    && pass "uninstall removed the containers and units, kept the database volume and /etc/sbs: $(grep -m1 '^kept' "$work/uninstall.out")" \
    || fail "after uninstall: $(docker ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}}'), $(ls "$root/etc/systemd/system" 2>&1)"
set +e
"$sbs" uninstall --root "$root" --purge </dev/null >"$work/purge-refused.out" 2>&1
status=$?
set -e
[ "$status" = 1 ] && [ -f "$root/etc/sbs/secrets.env" ] && docker volume inspect "${project}_postgres_data" >/dev/null 2>&1 \
    && pass "--purge without the domain typed is refused, nothing removed: $(grep -m1 Error "$work/purge-refused.out")" \
    || fail "--purge without confirmation: exit $status"
"$sbs" uninstall --root "$root" --purge --confirm shop.e2e.test >"$work/purge.out" 2>&1 && pass "sbs uninstall --purge exit 0" || fail "purge: $(tail -3 "$work/purge.out")"
! docker volume inspect "${project}_postgres_data" >/dev/null 2>&1 && [ ! -e "$root/etc/sbs" ] && [ ! -e "$root/var/lib/sbs" ] && [ ! -e "$root/opt/sbs" ] \
    && pass "--purge removed the volumes, /etc/sbs, /var/lib/sbs and the deploy folder" || fail "after purge: $(ls -R "$root" | head -20)"
restic_sftp snapshots --json \
    | python3 -c 'import json, sys; assert len(json.load(sys.stdin)) > 0' \
    && pass "the backup repository is still there after --purge" || fail "the backups are gone after --purge"
down "$root"

# ---------------------------------------------------------------------------------------------------------------
root=$work/root-ollama
say "4. recommended profile: Ollama and its model; the images loaded from an archive (images.archive)"
mapfile -t images < <(scripts/test/stand-in-images.sh list | awk '{ print $2 }')
docker save -o "$work/images.tar" "${images[@]}"
docker rmi -f "${images[@]}" >/dev/null
# An office proxy in the environment (scripts/test/counting-proxy.py logs what it serves): the CA on loopback, the
# self-check pinned to 127.0.0.1, the Ollama API on the stack's network and verify's requests pinned to 127.0.0.1
# must all go straight to their address, so it must serve nothing.
python3 scripts/test/counting-proxy.py "$work/proxy.log" "$work/proxy.port" </dev/null >/dev/null 2>&1 &
proxy_pid=$!
for _ in $(seq 1 100); do [ -s "$work/proxy.port" ] && break; sleep 0.1; done
proxy_env=(env "http_proxy=http://127.0.0.1:$(cat "$work/proxy.port")" "https_proxy=http://127.0.0.1:$(cat "$work/proxy.port")")
if "${proxy_env[@]}" "$sbs" install --answers scripts/test/stack/ollama.yaml --non-interactive --root "$root" >"$work/ollama.out" 2>&1; then
    pass "install with Ollama exit 0"
else
    fail "install with Ollama failed"
fi
tail -30 "$work/ollama.out"
grep -q "loading .* from $work/images.tar" "$work/ollama.out" && ! grep -Eq "pulling \S+ \([0-9]+ of [0-9]+\)" "$work/ollama.out" \
    && pass "the images were loaded from the archive, none pulled" || fail "the images were not loaded from the archive"
grep -q "pull-models" "$work/ollama.out" && grep -Eq "mistral:7b: \[#+\] 100 %" "$work/ollama.out" \
    && pass "pull-models showed the model's progress to 100 %" || fail "no pull progress for mistral:7b"
ollama=$(docker ps -q --filter "label=com.docker.compose.project=$(project_of "$root")" --filter label=com.docker.compose.service=ollama)
docker exec "$ollama" ollama list | grep -q "^mistral:7b" && pass "ollama lists mistral:7b" || fail "ollama does not list mistral:7b"
"${proxy_env[@]}" "$sbs" verify --root "$root" >"$work/verify-ollama.out" 2>&1 && pass "verify passes with Ollama" \
    || fail "verify with Ollama: $(cat "$work/verify-ollama.out")"
[ -e "$work/proxy.log" ] && fail "the environment's proxy served requests that must go straight: $(sort "$work/proxy.log" | uniq -c | head -5)" \
    || pass "with http_proxy and https_proxy set, the install (pull-models included) and verify sent nothing through the proxy"
# The proxy was listening and logs what it serves: one request through it shows up.
curl -s -o /dev/null --max-time 10 -x "http://127.0.0.1:$(cat "$work/proxy.port")" http://shop.e2e.test/ \
    && grep -qx "GET http://shop.e2e.test/" "$work/proxy.log" 2>/dev/null \
    && pass "the proxy served and logged a request sent through it" || fail "the proxy did not log a request sent through it"
kill "$proxy_pid" 2>/dev/null
"$sbs" install --answers scripts/test/stack/ollama.yaml --non-interactive --root "$root" >"$work/ollama-again.out" 2>&1 \
    && grep -Eq "pull-models: (up to date|already present: mistral:7b)" "$work/ollama-again.out" \
    && ! grep -q "mistral:7b: pulling" "$work/ollama-again.out" \
    && pass "a second install pulls nothing" || fail "the second install: $(tail -5 "$work/ollama-again.out")"
down "$root"
