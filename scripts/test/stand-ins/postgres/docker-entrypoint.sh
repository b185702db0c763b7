#!/bin/bash
# Entrypoint of the supabase/postgres stand-in, after the official postgres image's docker-entrypoint.sh:
#   - as root: owns PGDATA and the socket folder to postgres, then runs again as postgres;
#   - on an empty PGDATA only: initdb with POSTGRES_USER (default postgres) / POSTGRES_PASSWORD (required), a
#     POSTGRES_DB database, Supabase's roles, then /docker-entrypoint-initdb.d (recursively, in sorted path order,
#     as supabase's image runs init-scripts/ then migrations/): *.sql through psql -v ON_ERROR_STOP=1, *.sh sourced;
#   - then execs the command (postgres -c config_file=… as compose gives it).
set -Eeuo pipefail

log() { printf '%s\n' "standin-postgres: $*" >&2; }

if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        log "Database is uninitialized and superuser password is not specified."
        log "You must specify POSTGRES_PASSWORD to a non-empty value for the superuser."
        exit 1
    fi
    export POSTGRES_USER=${POSTGRES_USER:-postgres}
    export POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
    # A server on the socket only while the init scripts run, as the official image does.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start >/dev/null
    psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --host /var/run/postgresql)
    if [ "$POSTGRES_DB" != postgres ]; then
        "${psql[@]}" --dbname postgres -q -c "create database \"$POSTGRES_DB\""
    fi
    "${psql[@]}" --dbname postgres -q -f /usr/local/share/standin/supabase-roles.sql
    while IFS= read -r -d '' f; do
        case "$f" in
            *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
            *.sh) log "sourcing $f"; # shellcheck disable=SC1090
                . "$f" ;;
            *) log "ignoring $f" ;;
        esac
    done < <(find /docker-entrypoint-initdb.d -follow -type f -print0 | sort -z)
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    log "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
