#!/usr/bin/env bash
# Demo of sbs's ACME client end to end on loopback: starts Pebble + nginx (pebble-env.sh), runs
# `sbs cert issue` with the self-check for two names, verifies the chain with openssl against Pebble's root,
# runs `sbs renew` (nothing due), then stops everything.
#   scripts/test/acme-demo.sh [SBS_BINARY]   (default: builds with --scratch-path .build-acme)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
sbs=${1:-}
if [ -z "$sbs" ]; then
  (cd "$repo" && swift build --scratch-path .build-acme --product sbs >/dev/null)
  sbs="$repo/.build-acme/debug/sbs"
fi
work=$(mktemp -d /tmp/sbs-acme-demo-XXXXXX)
chmod 755 "$work"
trap '"$repo/scripts/test/pebble-env.sh" stop "$work/env" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$repo/scripts/test/pebble-env.sh" start "$work/env" >/dev/null
# shellcheck disable=SC1091
. "$work/env/env"

"$sbs" cert issue --root "$work/root" --domain shop.example.com --domain www.shop.example.com \
  --email ops@example.org --webroot "$WEBROOT" --directory "$PEBBLE_DIRECTORY" --ca-bundle "$PEBBLE_CA_BUNDLE" \
  --self-check --self-check-port "$HTTP_PORT" --self-check-resolve 127.0.0.1
live="$work/root/etc/sbs/ssl/live/shop.example.com"
curl -fsS --cacert "$PEBBLE_CA_BUNDLE" -o "$work/root.pem" "$PEBBLE_ROOTS"
openssl verify -CAfile "$work/root.pem" -untrusted "$live/chain.pem" "$live/cert.pem"
openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName
ls -l "$live"
"$sbs" renew --root "$work/root"
echo "acme-demo: OK"
