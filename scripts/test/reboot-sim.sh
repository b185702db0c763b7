#!/usr/bin/env bash
# Emulates a reboot for what a run of sbs's scripts started, so "works after a reboot" can be tested here:
# stops every process whose pid file lies under the given state folders (TERM, then KILL after 60 s), then, once no
# Docker engine runs, clears what a reboot clears and a killed engine leaves: the engine's runtime folder
# (/var/run/docker, a tmpfs on a real host) and its network-namespace and overlay mounts. Files under /tmp, volumes
# and images stay, as they would on a host whose /tmp is on disk.
#   scripts/test/reboot-sim.sh [STATE_DIR…]      (default: /tmp/sbs-demo, the demo's state)
# Then run the README's first command again, as a user would after the reboot.
set -u
dirs=("$@"); [ ${#dirs[@]} -gt 0 ] || dirs=(/tmp/sbs-demo)
pids=()
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  while IFS= read -r f; do
    p=$(tr -dc '0-9' <"$f"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null && pids+=("$p")
  done < <(find "$d" -name '*.pid' -type f 2>/dev/null)
done
for p in "${pids[@]}"; do echo "reboot-sim: stopping pid $p ($(ps -o comm= -p "$p" 2>/dev/null))"; kill "$p" 2>/dev/null; done
for _ in $(seq 120); do
  alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive -eq 0 ] && break; sleep 0.5
done
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && { echo "reboot-sim: pid $p ignored TERM for 60 s: KILL"; kill -9 "$p"; }; done
if [ -S /var/run/docker.sock ] && docker info >/dev/null 2>&1; then
  echo "reboot-sim: a Docker engine not started from these folders still runs: its runtime state is left alone"
else
  awk '$2 ~ /^\/(var\/)?run\/docker\/netns\// || $2 ~ /^\/var\/lib\/docker\/overlay2\/.*\/merged$/ {print $2}' /proc/mounts \
    | while read -r m; do umount "$m" 2>/dev/null; done
  rm -rf /var/run/docker /var/run/docker.pid /var/run/docker.sock
  echo "reboot-sim: engine runtime state cleared, as a reboot would"
fi
