#!/bin/sh
# Rendered by sbs from assets/deploy/backup/backup.sh.mustache. Dumps the database of the stack in this folder.
#   backup/backup.sh [DESTINATION [KEEP]]    (defaults: ./backups and 7 dumps)
# A dump is kept only when pg_dumpall exited 0 and its output ends with PostgreSQL's "dump complete" line; only then
# are older dumps rotated out. A failed run exits non-zero and leaves every earlier dump in place.
set -eu
cd "$(dirname "$0")/.."
destination="${1:-backups}"
keep="${2:-7}"
case "$keep" in '' | *[!0-9]* | 0) echo "backup.sh: KEEP must be a number from 1, not '$keep'" >&2; exit 64 ;; esac
umask 077
mkdir -p "$destination"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
part="$destination/db-$stamp.sql.gz.part"
trap 'rm -f "$part"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
# POSIX sh has no pipefail: the exit status of pg_dumpall comes back on descriptor 3, gzip's from the pipeline.
dump_status=$(
    {
        {
            status=0
            docker compose exec -T app-db pg_dumpall -U postgres || status=$?
            echo "$status" >&3
        } | gzip >"$part"
    } 3>&1
) || { echo "backup.sh: gzip failed writing $part" >&2; exit 1; }
if [ "$dump_status" != 0 ]; then
    echo "backup.sh: pg_dumpall failed (exit $dump_status): no dump was kept, earlier dumps are untouched" >&2
    exit 1
fi
if ! gzip -dc "$part" | tail -n 5 | grep -q '^-- PostgreSQL database cluster dump complete'; then
    echo "backup.sh: the dump is incomplete (no 'dump complete' line): not kept, earlier dumps are untouched" >&2
    exit 1
fi
mv "$part" "$destination/db-$stamp.sql.gz"
# Keep the newest $keep complete dumps.
ls -1t "$destination"/db-*.sql.gz | tail -n +"$((keep + 1))" | while read -r old; do rm -f -- "$old"; done
echo "backup.sh: $destination/db-$stamp.sql.gz ($(wc -c <"$destination/db-$stamp.sql.gz") bytes)"
