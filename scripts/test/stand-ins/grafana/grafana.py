#!/usr/bin/python3
"""Stand-in for Grafana 10.4: the start-up checks, the health endpoint and /metrics (Grafana serves its own metrics
there without a login unless [metrics] enabled = false), nothing else.
Refuses to start (exit 1) when GF_SECURITY_ADMIN_PASSWORD is empty (the real Grafana falls back to "admin"; the
stack must never run with that, so the stand-in treats it as an error), when GF_PATHS_CONFIG cannot be read or
parsed as INI, when GF_PATHS_PROVISIONING is set but not a folder, or when the data folder is not writable."""
import configparser, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def log(level, message):
    print('logger=standin-grafana t=standin level=%s msg="%s"' % (level, message), file=sys.stderr, flush=True)

def fail(message):
    log("error", message)
    sys.exit(1)

if not os.environ.get("GF_SECURITY_ADMIN_PASSWORD"):
    fail("GF_SECURITY_ADMIN_PASSWORD is not set: refusing to start with the default admin password")
config = configparser.ConfigParser(interpolation=None)
path = os.environ.get("GF_PATHS_CONFIG", "/etc/grafana/grafana.ini")
try:
    with open(path) as f:
        config.read_string("[DEFAULT]\n" + f.read())
except (OSError, configparser.Error) as error:
    fail("Failed to parse %s: %s" % (path, error))
provisioning = os.environ.get("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning")
if not os.path.isdir(provisioning):
    fail("Failed to read provisioning folder %s" % provisioning)
data = os.environ.get("GF_PATHS_DATA", "/var/lib/grafana")
try:
    with open(os.path.join(data, "grafana.db"), "a"):
        pass
except OSError as error:
    fail("failed to open the database in %s: %s" % (data, error))
metrics_enabled = config.get("metrics", "enabled", fallback="true").strip().lower() != "false"
port = int(os.environ.get("GF_SERVER_HTTP_PORT") or config.get("server", "http_port", fallback="3000"))

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        content_type = "application/json"
        if self.path.split("?")[0] == "/api/health":
            status, body = 200, {"commit": "standin", "database": "ok", "version": "10.4.2"}
        elif self.path.split("?")[0] == "/metrics" and metrics_enabled:
            status, content_type = 200, "text/plain; version=0.0.4"
            body = ('# HELP grafana_build_info A metric with a constant 1 value labeled by version.\n'
                    '# TYPE grafana_build_info gauge\ngrafana_build_info{version="10.4.2"} 1\n')
        else:
            status, body = 404, {"message": "Not found"}
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
    do_HEAD = do_GET
    def log_message(self, fmt, *args):
        pass

log("info", "HTTP Server Listen address=[::]:%d" % port)
ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
