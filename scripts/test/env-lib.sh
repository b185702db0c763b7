# Shared by the test scripts (pebble-env.sh, stepca-env.sh, release-tests.sh, install-sh-tests.sh): sourced, not run.

# stop_pid PIDFILE: TERM the process it names, KILL it after 5 s, remove the file.
stop_pid() {
    [ -f "$1" ] || return 0
    local pid; pid=$(cat "$1")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
}

# start_nginx DIR SERVER-BLOCKS: an nginx whose pid, logs and temporary files are all under DIR, serving the given
# server blocks; waits for its pid file. As a daemon it must not hold the caller's stdout/stderr open (a caller
# reading them to end of file would wait forever).
start_nginx() {
    local dir=$1 servers=$2
    mkdir -p "$dir/nginx-tmp"
    cat >"$dir/nginx.conf" <<NGINX
daemon on;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
worker_processes 1;
events { worker_connections 64; }
http {
  access_log $dir/nginx-access.log;
  client_body_temp_path $dir/nginx-tmp/body;
  proxy_temp_path $dir/nginx-tmp/proxy;
  fastcgi_temp_path $dir/nginx-tmp/fastcgi;
  uwsgi_temp_path $dir/nginx-tmp/uwsgi;
  scgi_temp_path $dir/nginx-tmp/scgi;
  default_type application/octet-stream;
$servers
}
NGINX
    local nginx_bin; nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
    "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" </dev/null >>"$dir/nginx-start.log" 2>&1
    for _ in $(seq 1 200); do [ -s "$dir/nginx.pid" ] && return 0; sleep 0.05; done
    echo "nginx did not start (see $dir/nginx-error.log)" >&2
    return 1
}

# start_loopback_http DIR LOG: python's http.server serving DIR on a free port of 127.0.0.1, in the background, its
# output in LOG. Sets http_pid and http_port; returns non-zero when no port was announced within 5 s.
start_loopback_http() {
    python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$1" >"$2" 2>&1 &
    http_pid=$!
    http_port=""
    for _ in $(seq 50); do
        http_port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$2" | head -n 1)
        [ -z "$http_port" ] || return 0
        sleep 0.1
    done
    return 1
}
