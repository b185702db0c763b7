#!/bin/sh
# Rendered by sbs from assets/deploy/backup/backup.sh.mustache. Dumps the database of the stack in this folder.
#   backup/backup.sh [DESTINATION [KEEP]]    (defaults: ./backups and 7 dumps)
set -eu
cd "$(dirname "$0")/.."
destination="${1:-backups}"
keep="${2:-7}"
umask 077
mkdir -p "$destination"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
docker compose exec -T app-db pg_dumpall -U postgres | gzip > "$destination/db-$stamp.sql.gz.part"
mv "$destination/db-$stamp.sql.gz.part" "$destination/db-$stamp.sql.gz"
# Keep the newest $keep dumps.
ls -1t "$destination"/db-*.sql.gz | tail -n +"$((keep + 1))" | while read -r old; do rm -f -- "$old"; done
