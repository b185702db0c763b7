#!/usr/bin/python3
"""Stand-in for Prometheus 2.51: reads its flags like the real one (--flag=value or --flag value; unknown flags of
the real server are accepted), checks that the config file is readable and looks like YAML with a mapping at the
top (no PyYAML here: a shallow check), that the storage folder is writable, then serves
GET /-/healthy, /-/ready, /api/v1/status/buildinfo. No scraping."""
import json, os, re, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def fail(message):
    print('ts=standin caller=main.go level=error msg="%s"' % message, file=sys.stderr, flush=True)
    sys.exit(1)

flags = {"config.file": "prometheus.yml", "storage.tsdb.path": "data/", "web.listen-address": "0.0.0.0:9090"}
args = sys.argv[1:]
while args:
    arg = args.pop(0)
    if not arg.startswith("-"):
        fail("unexpected argument " + arg)
    key, has_value, value = arg.lstrip("-").partition("=")
    if not has_value and key.startswith("no-"):
        continue
    if not has_value:
        value = args.pop(0) if args and not args[0].startswith("-") else "true"
    flags[key] = value

config = flags["config.file"]
try:
    with open(config) as f:
        text = f.read()
except OSError as error:
    fail('Error loading config (--config.file=%s): %s' % (config, error))
if not re.search(r"^(global|scrape_configs|rule_files|alerting|remote_write):", text, re.M):
    fail('Error loading config (--config.file=%s): no known top-level section' % config)
storage = flags["storage.tsdb.path"]
try:
    os.makedirs(storage, exist_ok=True)
    with open(os.path.join(storage, "lock"), "w") as f:
        f.write(str(os.getpid()))
except OSError as error:
    fail("Opening storage failed: %s" % error)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?")[0]
        answers = {"/-/healthy": (200, "text/plain", "Prometheus Server is Healthy.\n"),
                   "/-/ready": (200, "text/plain", "Prometheus Server is Ready.\n"),
                   "/api/v1/status/buildinfo": (200, "application/json", json.dumps(
                       {"status": "success", "data": {"version": "2.51.2", "revision": "standin"}}))}
        status, content_type, body = answers.get(path, (404, "text/plain", "404 page not found\n"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
    do_HEAD = do_GET
    def log_message(self, fmt, *args):
        pass

host, _, port = flags["web.listen-address"].rpartition(":")
print('ts=standin caller=main.go level=info msg="Server is ready to receive web requests." config=%s' % config,
      file=sys.stderr, flush=True)
ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler).serve_forever()
