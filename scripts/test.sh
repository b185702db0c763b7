#!/usr/bin/env bash
# Builds sbs and runs every test: unit tests, end-to-end tests on the built binary (a real pty through tmux),
# and the integration tests against real Pebble, nginx and docker compose. Tests whose tools are missing are
# skipped with a reason, unless SBS_REQUIRE_INTEGRATION=1 (as in CI), which makes a missing tool a failure.
# scripts/ci-setup.sh installs those tools on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build "$@"
