#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian 12 machine (root): the C libraries sbs links (libedit,
# libcurl), tmux for the wizard tests, Pebble + nginx + openssl for the ACME tests, restic, openssh-server (an
# sftp repository on a loopback port), rclone (restic's REST server) and moto from PyPI (S3) for the backups,
# Prometheus (promtool checks and unit-tests the alert rules) and Alertmanager (amtool checks its configuration, a
# real one mails an alert), the docker CLI and compose v2 for `docker compose config`; PostgreSQL 15 server and client
# for the migration tests (scripts/test/pg-pair.sh runs its own throw-away clusters: the package's "main" cluster is
# never created, /etc/postgresql-common/createcluster.conf says create_main_cluster = false);
# for the release tests (scripts/test/release-tests.sh) shellcheck, dash, wget, binutils (strip, objdump),
# debootstrap and the Docker engine (dockerd). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
packages=(pkg-config libedit-dev libcurl4-openssl-dev tmux pebble nginx openssl curl python3 python3-venv restic openssh-server openssh-client)
# PgBouncer: the swarm's pooler, run by Tests/RenderTests/PoolerTests.swift with its rendered configuration.
packages+=(pgbouncer)
packages+=(prometheus prometheus-alertmanager prometheus-blackbox-exporter rclone)
packages+=(shellcheck dash wget binutils debootstrap iptables nftables util-linux iproute2 docker-registry apache2-utils)
# step-ca (the second ACME server of the tests) is built from Debian's Go library: scripts/test/stepca-env.sh.
packages+=(golang-go golang-github-smallstep-certificates-dev)
# pgcrypto and the other contrib extensions are part of postgresql-15 on Debian 12 (postgresql-contrib is an empty
# package that only depends on it).
packages+=(postgresql-15 postgresql-client-15)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
# A docker CLI alone (without the engine) is not enough for the container tests.
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
# Before the packages: postgresql-common's postinst creates and starts a "main" cluster on port 5432 unless this
# says otherwise (it keeps a createcluster.conf it finds).
cluster_conf=/etc/postgresql-common/createcluster.conf
if ! grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=[[:space:]]*(false|off)[[:space:]]*$' "$cluster_conf" 2>/dev/null; then
    mkdir -p "$(dirname "$cluster_conf")"
    if grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=' "$cluster_conf" 2>/dev/null; then
        sed -i -E 's/^[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' "$cluster_conf"
    else
        echo 'create_main_cluster = false' >>"$cluster_conf"
    fi
fi
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
scripts/test/setup-compose.sh
# An S3-compatible server for the backup tests (scripts/test/s3-server.py), for the python3 the tests run.
python3 -c 'import moto.server, boto3' 2>/dev/null || python3 -m pip install --quiet 'moto[server]' boto3
