#!/usr/bin/env bash
# Builds sbs and runs every test: unit tests, end-to-end tests on the built binary (a real pty through tmux),
# and the integration tests against real Pebble, nginx and docker compose. Tests whose tools are missing are
# skipped with a reason, unless SBS_REQUIRE_INTEGRATION=1 (as in CI), which makes a missing tool a failure.
# Then scripts/test/stack-e2e.sh: the whole install, end to end, on this machine's ports 80 and 443;
# scripts/test/swarm-e2e.sh: the install with `target: swarm`, on one node and then two; and
# scripts/test/demo-reboot.sh: the demo, a reboot, the demo again, a reboot, `demo.sh clean`, the demo again
# (SBS_SKIP_E2E=1 leaves them out). On a fresh Debian machine it first installs those tools (scripts/ci-setup.sh,
# which does nothing when they are there already; SBS_SKIP_SETUP=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SBS_SKIP_SETUP:-0}" = 1 ] || scripts/ci-setup.sh
# A Docker engine for the tests that ask one (ensure-docker): the one running, or one started here and stopped
# by its pid when the tests end. Without one those tests are skipped with the reason (or fail in CI).
engine_state=$(mktemp -d)
trap 'scripts/test/docker-env.sh stop "$engine_state" || true; rm -rf "$engine_state"' EXIT
scripts/test/docker-env.sh start "$engine_state" || echo "test.sh: no Docker engine; the tests that need one will say so" >&2
# A stack an earlier end-to-end run was killed with comes back with the engine and holds ports 80 and 443.
scripts/test/stack-e2e.sh clean
scripts/test/swarm-e2e.sh clean
swift build --build-tests
swift test --skip-build "$@"
# The whole install on ports 80/443 with stand-in images (not when only some tests were asked for); then the
# demo through two reboots (it stops the engine started above: a reboot stops it).
if [ $# -eq 0 ] && [ "${SBS_SKIP_E2E:-0}" != 1 ]; then
    SBS_SKIP_SETUP=1 scripts/test/stack-e2e.sh
    SBS_SKIP_SETUP=1 scripts/test/swarm-e2e.sh
    SBS_SKIP_SETUP=1 scripts/test/demo-reboot.sh "$engine_state"
fi
