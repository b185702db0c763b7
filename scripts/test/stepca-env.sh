#!/usr/bin/env bash
# A throw-away smallstep step-ca on loopback: the second ACME server implementation the tests use beside Pebble.
# It validates HTTP-01 on port 80 of each name, which it resolves with the system resolver: the names are mapped to
# 127.0.0.1 in /etc/hosts (between marker lines, removed by `stop`), and an nginx on 127.0.0.1:80 serves the
# webroot.
#
#   stepca-env.sh start DIR NAME…   build step-ca if needed (scripts/test/step-ca/main.go against Debian's
#                                   golang-github-smallstep-certificates-dev, GOPATH mode, offline; cached), make a
#                                   root and an intermediate CA, start it; prints and writes DIR/env (sourceable)
#   stepca-env.sh stop DIR          stop what `start` started (by pid) and remove its /etc/hosts lines
#
# Needs: golang-go golang-github-smallstep-certificates-dev nginx openssl curl, root (for /etc/hosts and port 80).
set -euo pipefail

die() { echo "stepca-env: $*" >&2; exit 1; }
# shellcheck source=scripts/test/env-lib.sh
. "$(dirname "$0")/env-lib.sh"
[ $# -ge 2 ] || die "usage: $0 start DIR NAME… | stop DIR"
cmd=$1
dir=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
cache=${SBS_STEPCA_CACHE:-/var/cache/sbs-test}


hosts_remove() { # marker
    [ -w /etc/hosts ] || return 0
    local kept; kept=$(grep -v -- "$1" /etc/hosts || true)
    # /etc/hosts may be a bind mount (containers): rewrite it in place instead of replacing it.
    printf '%s\n' "$kept" >/etc/hosts
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$cmd" in
start)
    [ $# -ge 1 ] || die "start needs at least one name"
    for tool in go nginx openssl curl python3; do
        command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || die "$tool is missing (apt-get install -y golang-go golang-github-smallstep-certificates-dev nginx openssl curl python3)"
    done
    [ -d /usr/share/gocode/src/github.com/smallstep/certificates ] || die "golang-github-smallstep-certificates-dev is missing"

    # The binary, built once per version of main.go.
    hash=$(sha256sum "$here/step-ca/main.go" | cut -c1-12)
    binary=$cache/step-ca-$hash
    if [ ! -x "$binary" ]; then
        mkdir -p "$cache/gopath/src/sbs-step-ca"
        cp "$here/step-ca/main.go" "$cache/gopath/src/sbs-step-ca/main.go"
        echo "stepca-env: building step-ca (about 2 minutes, once)" >&2
        (cd "$cache/gopath/src/sbs-step-ca" && GO111MODULE=off GOPATH="$cache/gopath:/usr/share/gocode" \
            GOCACHE="$cache/gocache" GOFLAGS=-mod=mod go build -o "$binary.tmp" . 2>"$cache/build.log") \
            || { tail -20 "$cache/build.log" >&2; die "building step-ca failed"; }
        mv "$binary.tmp" "$binary"
    fi

    if ss -Hltn "sport = :80" | grep -q .; then
        die "port 80 is in use (step-ca validates HTTP-01 on port 80 only): $(ss -Hltnp "sport = :80" | tr -s ' ' | tr '\n' ';')"
    fi

    mkdir -p "$dir/webroot/.well-known/acme-challenge" "$dir/db"
    dir=$(cd "$dir" && pwd)
    chmod 755 "$dir" "$dir/webroot" "$dir/webroot/.well-known" "$dir/webroot/.well-known/acme-challenge"

    # Root and intermediate CAs (EC P-256). OpenSSL 3: -addext for the CA extensions.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=sbs test step-ca root" \
        -keyout "$dir/root.key" -out "$dir/root.pem" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=sbs test step-ca intermediate" \
        -keyout "$dir/intermediate.key" -out "$dir/intermediate.csr" 2>/dev/null
    printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$dir/intermediate.ext"
    openssl x509 -req -in "$dir/intermediate.csr" -CA "$dir/root.pem" -CAkey "$dir/root.key" -CAcreateserial -days 2 \
        -extfile "$dir/intermediate.ext" -out "$dir/intermediate.pem" 2>/dev/null

    port=$(free_port)
    cat >"$dir/ca.json" <<JSON
{
  "root": "$dir/root.pem",
  "crt": "$dir/intermediate.pem",
  "key": "$dir/intermediate.key",
  "address": "127.0.0.1:$port",
  "dnsNames": ["127.0.0.1", "localhost"],
  "logger": {"format": "text"},
  "db": {"type": "badgerv2", "dataSource": "$dir/db"},
  "authority": {"provisioners": [{"type": "ACME", "name": "acme"}]},
  "tls": {"minVersion": 1.2, "maxVersion": 1.3}
}
JSON

    start_nginx "$dir" "  server { listen 127.0.0.1:80; server_name _; root $dir/webroot; }" || die "nginx did not start"

    marker="# sbs-stepca-env $dir"
    hosts_remove "$marker"
    for name in "$@"; do printf '127.0.0.1 %s %s\n' "$name" "$marker" >>/etc/hosts; done
    echo "$marker" >"$dir/hosts-marker"

    (exec "$binary" "$dir/ca.json" </dev/null >>"$dir/step-ca.log" 2>&1) &
    echo $! >"$dir/step-ca.pid"
    directory="https://127.0.0.1:$port/acme/acme/directory"
    for _ in $(seq 1 200); do
        curl -fsS --cacert "$dir/root.pem" "$directory" >/dev/null 2>&1 && break
        kill -0 "$(cat "$dir/step-ca.pid")" 2>/dev/null || { tail -20 "$dir/step-ca.log" >&2; die "step-ca exited"; }
        sleep 0.05
    done
    curl -fsS --cacert "$dir/root.pem" "$directory" >/dev/null || { tail -20 "$dir/step-ca.log" >&2; die "step-ca did not answer"; }
    cat >"$dir/env" <<ENV
STEPCA_DIR=$dir
STEPCA_DIRECTORY=$directory
STEPCA_ROOT=$dir/root.pem
WEBROOT=$dir/webroot
ENV
    cat "$dir/env"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    stop_pid "$dir/step-ca.pid"
    stop_pid "$dir/nginx.pid"
    [ -f "$dir/hosts-marker" ] && hosts_remove "$(cat "$dir/hosts-marker")"
    rm -f "$dir/hosts-marker"
    ;;
*) die "unknown command $cmd" ;;
esac
