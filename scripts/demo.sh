#!/usr/bin/env bash
# Installs end to end as far as sbs goes today, on this machine, with nothing to configure:
#   - builds sbs,
#   - starts a local Pebble (Let's Encrypt's test CA) on 127.0.0.1:14000 with its fake DNS, and an nginx that
#     serves sbs's ACME webroot on port 5002 (standing in for the stack's nginx until the Docker steps exist),
#   - runs `sbs install` with the tracked answers file examples/demo.yaml under --root /tmp/sbs-demo/root,
#     through obtain-certificate, skipping the steps that need a Docker engine,
#   - shows the result and verifies the certificate chain against Pebble's root.
# Run it again to see every step up to date; `scripts/demo.sh clean` stops Pebble and nginx and removes the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=/tmp/sbs-demo
root=$demo/root
env_dir=$demo/pebble

if [ "${1:-}" = clean ]; then
    scripts/test/pebble-env.sh stop "$env_dir" || true
    rm -rf "$demo"
    exit 0
fi

scripts/ci-setup.sh   # the tools (libedit, libcurl, Pebble, nginx …); does nothing when they are there
swift build
sbs=$(swift build --show-bin-path)/sbs

# Pebble forgets its accounts and makes a new root at every start: start it once, reuse it on later runs.
again=()
if ! curl -fsS --cacert "$env_dir/ca.pem" https://127.0.0.1:14000/dir >/dev/null 2>&1; then
    scripts/test/pebble-env.sh stop "$env_dir" >/dev/null 2>&1 || true
    mkdir -p "$root/var/lib/sbs/webroot"
    PEBBLE_ENV_PORTS="14000 15000 5001 8053 8055 5002 14443" PEBBLE_ENV_WEBROOT="$root/var/lib/sbs/webroot" \
        scripts/test/pebble-env.sh start "$env_dir" >/dev/null
    # A new CA (after a reboot, say): the account kept under the demo root belongs to the old one and is
    # registered again, and a certificate from the old CA is replaced.
    [ -e "$root/etc/sbs/ssl/live/shop.example.test/fullchain.pem" ] && again=(--from obtain-certificate)
fi

export SBS_DEMO_ANTHROPIC_KEY=${SBS_DEMO_ANTHROPIC_KEY:-sk-ant-demo-placeholder}
set +e
"$sbs" install --answers examples/demo.yaml --non-interactive --root "$root" \
    --through obtain-certificate --skip preflight --skip ensure-docker --skip start-proxy "${again[@]}"
status=$?
set -e
echo
"$sbs" status --root "$root"
[ $status -eq 0 ] || exit $status

live=$root/etc/sbs/ssl/live/shop.example.test
curl -fsS --cacert "$env_dir/ca.pem" https://127.0.0.1:15000/roots/0 >"$demo/pebble-root.pem"
curl -fsS --cacert "$env_dir/ca.pem" https://127.0.0.1:15000/intermediates/0 >"$demo/pebble-intermediate.pem"
echo
echo "Deploy folder:  $root/opt/sbs ($(find "$root/opt/sbs" -type f | wc -l) files)"
echo "Certificate:    $live ($(openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName | tail -1 | sed 's/^ *//'))"
openssl verify -CAfile "$demo/pebble-root.pem" -untrusted "$live/chain.pem" "$live/cert.pem"
echo "Secrets:        $root/etc/sbs/secrets.env ($(stat -c %a "$root/etc/sbs/secrets.env"))"
echo "Stop Pebble and remove the demo: scripts/demo.sh clean"
