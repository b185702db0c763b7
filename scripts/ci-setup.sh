#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian 12 machine (root): the C libraries sbs links (libedit,
# libcurl), tmux for the wizard tests, Pebble + nginx + openssl for the ACME tests, restic, openssh-server (an
# sftp repository on a loopback port), rclone (restic's REST server) and moto from PyPI (S3) for the backups,
# Prometheus (promtool checks and unit-tests the alert rules) and Alertmanager (amtool checks its configuration, a
# real one mails an alert), the docker CLI and compose v2 for `docker compose config`;
# for the release tests (scripts/test/release-tests.sh) shellcheck, dash, wget, binutils (strip, objdump),
# debootstrap and the Docker engine (dockerd). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
packages=(pkg-config libedit-dev libcurl4-openssl-dev tmux pebble nginx openssl curl python3 python3-venv restic openssh-server openssh-client)
packages+=(prometheus prometheus-alertmanager prometheus-blackbox-exporter rclone)
packages+=(shellcheck dash wget binutils debootstrap iptables nftables util-linux iproute2 docker-registry apache2-utils)
# step-ca (the second ACME server of the tests) is built from Debian's Go library: scripts/test/stepca-env.sh.
packages+=(golang-go golang-github-smallstep-certificates-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
# A docker CLI alone (without the engine) is not enough for the container tests.
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
scripts/test/setup-compose.sh
# An S3-compatible server for the backup tests (scripts/test/s3-server.py), for the python3 the tests run.
python3 -c 'import moto.server, boto3' 2>/dev/null || python3 -m pip install --quiet 'moto[server]' boto3
