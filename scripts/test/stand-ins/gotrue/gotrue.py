#!/usr/bin/python3
"""Stand-in for GoTrue: log in to GOTRUE_DB_DATABASE_URL with psql (retrying, as GoTrue retries its migrations),
then serve GET /health -> 200 {"version":…,"name":"GoTrue",…} on GOTRUE_API_HOST:GOTRUE_API_PORT."""
import json, os, subprocess, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def log(message):
    print(json.dumps({"level": "info", "component": "standin-gotrue", "msg": message}), file=sys.stderr, flush=True)

url = os.environ.get("GOTRUE_DB_DATABASE_URL") or os.environ.get("DATABASE_URL")
if not url:
    log("GOTRUE_DB_DATABASE_URL is not set"); sys.exit(1)
while True:
    try:
        done = subprocess.run(["psql", "--no-psqlrc", "-tAc", "select current_user", url],
                              capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        log("database login timed out, retrying"); continue
    if done.returncode == 0:
        log("logged in to the database as " + done.stdout.strip()); break
    log("database login failed, retrying in 1 s: " + (done.stderr.strip().splitlines() or [""])[-1])
    time.sleep(1)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] == "/health":
            body = json.dumps({"version": "v2.132.3-standin", "name": "GoTrue",
                               "description": "GoTrue is a user registration and authentication API"}).encode()
            self.send_response(200)
        else:
            body = json.dumps({"code": 404, "msg": "Not Found"}).encode()
            self.send_response(404)
        self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_HEAD = do_GET
    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

host, port = os.environ.get("GOTRUE_API_HOST", "0.0.0.0"), int(os.environ.get("GOTRUE_API_PORT", "9999"))
log("GoTrue API started on %s:%d" % (host, port))
ThreadingHTTPServer((host, port), Handler).serve_forever()
