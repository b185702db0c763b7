#!/usr/bin/env bash
# Two throw-away PostgreSQL 15 servers on loopback for the tests of `sbs migrate`: "source" stands for a client's
# hosted Supabase project, "target" for the server's own database. Both run as the postgres OS user from Debian's
# binaries (PG_PAIR_BIN, default /usr/lib/postgresql/15/bin); data, logs and sockets are all under DIR.
#
#   pg-pair.sh start DIR          two fresh clusters (any earlier pair in DIR is stopped and replaced), each on a free
#                                 port of 127.0.0.1; prints KEY=VALUE lines and writes them to DIR/env (sourceable):
#                                   SOURCE_PORT, TARGET_PORT
#                                   SOURCE_URL, TARGET_URL   postgres://postgres@127.0.0.1:PORT/postgres
#                                   SOURCE_PASSWORD_FILE     the source's postgres password (0600, no newline)
#                                   SOCKET_DIR               both sockets: psql -h SOCKET_DIR -p PORT -U postgres
#                                 PG_PAIR_KEEP=1 starts the clusters already in DIR again instead (data, password kept).
#   pg-pair.sh seed DIR [ROWS]    loads Tests/Fixtures/migrate/source.sql into the source (ROWS events, default
#                                 1000000) and Tests/Fixtures/migrate/target.sql into the target; once per start
#   pg-pair.sh stop DIR           stops both servers (immediate shutdown); safe to repeat, and after a partial start
#
# Authentication: on the sockets trust for both; over TCP the source wants the password (scram-sha-256), the target
# trusts 127.0.0.1. The servers are tuned for tests, not for keeping data (fsync, synchronous_commit and
# full_page_writes off). DIR (e.g. from mktemp -d) and every folder above it must be traversable by postgres: start
# adds a+x to DIR itself. Run as root.
# Needs: postgresql-15 (server and client), python3 (for free ports), util-linux (setpriv) — Debian: postgresql-15
# postgresql-client-15 python3 util-linux (scripts/ci-setup.sh installs them without a "main" cluster).
set -euo pipefail

die() { echo "pg-pair: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: $0 start|stop DIR, or $0 seed DIR [ROWS]"
cmd=$1
dir=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PG_PAIR_BIN:-/usr/lib/postgresql/15/bin}
sides=(source target)

free_ports() {
  # Bind all at once so the kernel hands out distinct ports; they are released just before use, which is racy in
  # theory: a server that then finds its port taken is started again on another one.
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# as_postgres COMMAND...: PostgreSQL's server tools refuse to run as root. From inside DIR, so that no tool warns
# about a working directory it cannot enter.
as_postgres() { (cd "$dir" && setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"); }

psql_socket() { # PORT ARGS...: psql as postgres over the socket, no ~/.psqlrc, stop at the first error
  local port=$1; shift
  PGOPTIONS="-c client_min_messages=warning" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/socket" -p "$port" -U postgres -d postgres "$@"
}

# stop_side NAME: an immediate shutdown of DIR/NAME-data's server, if one runs; fails only if it still runs after.
stop_side() {
  local data=$dir/$1-data
  [ -f "$data/PG_VERSION" ] || return 0
  if [ -f "$data/postmaster.pid" ]; then
    as_postgres "$bin/pg_ctl" -D "$data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
  fi
  local status=0
  as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1 || status=$?
  # pg_ctl status: 3 = no server running, 4 = no readable data directory.
  [ "$status" = 3 ] || [ "$status" = 4 ] || die "the $1 server in $data is still running"
}

# init_side NAME TCP-METHOD: a new cluster in DIR/NAME-data with its settings and pg_hba.conf.
init_side() {
  local name=$1 method=$2 data=$dir/$1-data
  mkdir -m 700 "$data"
  chown postgres:postgres "$data"
  as_postgres "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust \
    --auth-host="$method" >"$dir/$name-initdb.log" 2>&1 || { tail -20 "$dir/$name-initdb.log" >&2; return 1; }
  cat >>"$data/postgresql.conf" <<CONF

# pg-pair.sh: loopback only, the socket under the test folder, fast rather than safe (the port is given at start).
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/socket'
max_connections = 50
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  cat >"$data/pg_hba.conf" <<HBA
# pg-pair.sh: trust on the socket; over TCP $method, for 127.0.0.1 only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  $method
HBA
}

# start_side NAME PORT: starts DIR/NAME-data on PORT, or on another free port when PORT turns out to be taken; sets
# started_port.
start_side() {
  local name=$1 port=$2 data=$dir/$1-data log=$dir/$1.log attempt offset said
  for attempt in 1 2 3 4 5; do
    offset=$(($(stat -c %s "$log") + 1))
    if as_postgres "$bin/pg_ctl" -D "$data" -l "$log" -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
      started_port=$port
      return 0
    fi
    said=$(tail -c "+$offset" "$log")
    grep -q 'Address already in use' <<<"$said" \
      || { tail -20 <<<"$said" >&2; die "the $name server did not start (log: $log)"; }
    echo "pg-pair: port $port was taken (attempt $attempt), trying another" >&2
    port=$(free_ports 1)
  done
  die "the $name server found no free port (log: $log)"
}

wait_ready() { # NAME PORT: answers on TCP and on the socket
  local host
  for host in 127.0.0.1 "$dir/socket"; do
    for _ in $(seq 1 200); do
      if "$bin/pg_isready" -q -h "$host" -p "$2" -U postgres -d postgres; then continue 2; fi
      sleep 0.05
    done
    die "the $1 server does not accept connections on $host port $2 (log: $dir/$1.log)"
  done
}

new_password() { # 24 letters and digits from /dev/urandom
  local password=""
  while [ ${#password} -lt 24 ]; do
    password+=$(head -c 256 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')
  done
  printf '%s' "${password:0:24}"
}

case "$cmd" in
start)
  [ "$(id -u)" = 0 ] || die "run as root (the servers run as the postgres OS user)"
  id postgres >/dev/null 2>&1 || die "no postgres OS user (apt-get install -y postgresql-15)"
  [ -x "$bin/postgres" ] || die "no PostgreSQL server in $bin (apt-get install -y postgresql-15 postgresql-client-15)"
  command -v python3 >/dev/null || die "python3 is missing (apt-get install -y python3)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chmod a+x "$dir"
  setpriv --reuid=postgres --regid=postgres --init-groups -- test -x "$dir" \
    || die "the postgres OS user cannot reach $dir (every folder above it must be traversable)"
  # A socket's path has at most 107 bytes.
  [ ${#dir} -le 80 ] || die "$dir is too long a path for the servers' sockets (80 characters at most)"
  for side in "${sides[@]}"; do stop_side "$side"; done

  keep=0
  if [ "${PG_PAIR_KEEP:-0}" = 1 ] && [ -f "$dir/source-data/PG_VERSION" ] && [ -f "$dir/target-data/PG_VERSION" ] \
    && [ -s "$dir/source-password" ]; then
    keep=1
  fi
  mkdir -p "$dir/socket"
  chown postgres:postgres "$dir/socket"
  chmod 755 "$dir/socket"
  if [ $keep = 0 ]; then
    rm -rf "$dir/source-data" "$dir/target-data" "$dir/source.log" "$dir/target.log" "$dir/env"
    # Both clusters at once: initdb takes a few seconds each.
    init_side source scram-sha-256 & source_init=$!
    init_side target trust & target_init=$!
    wait "$source_init" || die "initdb of the source failed (log: $dir/source-initdb.log)"
    wait "$target_init" || die "initdb of the target failed (log: $dir/target-initdb.log)"
    (umask 077 && new_password >"$dir/source-password")
    chmod 600 "$dir/source-password"
  fi
  for side in "${sides[@]}"; do
    touch "$dir/$side.log"
    chown postgres:postgres "$dir/$side.log"
  done

  read -r source_port target_port <<<"$(free_ports 2)"
  start_side source "$source_port"
  source_port=$started_port
  start_side target "$target_port"
  target_port=$started_port
  wait_ready source "$source_port"
  wait_ready target "$target_port"
  if [ $keep = 0 ]; then
    # From stdin, not the command line: the password shows in no process list. It is letters and digits only.
    psql_socket "$source_port" <<SQL
\set password '$(cat "$dir/source-password")'
alter role postgres password :'password';
SQL
  fi

  cat >"$dir/env.new" <<ENV
SOURCE_PORT=$source_port
TARGET_PORT=$target_port
SOURCE_URL=postgres://postgres@127.0.0.1:$source_port/postgres
TARGET_URL=postgres://postgres@127.0.0.1:$target_port/postgres
SOURCE_PASSWORD_FILE=$dir/source-password
SOCKET_DIR=$dir/socket
ENV
  mv "$dir/env.new" "$dir/env"
  cat "$dir/env"
  ;;
seed)
  [ $# -le 3 ] || die "usage: $0 seed DIR [ROWS]"
  rows=${3:-1000000}
  [[ $rows =~ ^[0-9]+$ ]] || die "ROWS must be a whole number, not '$rows'"
  [ -f "$dir/env" ] || die "no $dir/env: run $0 start $dir first"
  dir=$(cd "$dir" && pwd)
  source_port=$(sed -n 's/^SOURCE_PORT=//p' "$dir/env")
  target_port=$(sed -n 's/^TARGET_PORT=//p' "$dir/env")
  started=$EPOCHREALTIME
  psql_socket "$source_port" -v rows="$rows" -f "$root/Tests/Fixtures/migrate/source.sql" \
    || die "loading source.sql into the source failed"
  echo "pg-pair: source seeded with $rows events in $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s" >&2
  psql_socket "$target_port" -f "$root/Tests/Fixtures/migrate/target.sql" \
    || die "loading target.sql into the target failed"
  ;;
stop)
  [ $# -eq 2 ] || die "usage: $0 stop DIR"
  [ -d "$dir" ] || exit 0
  dir=$(cd "$dir" && pwd)
  for side in "${sides[@]}"; do stop_side "$side"; done
  ;;
*) die "unknown command $cmd" ;;
esac
