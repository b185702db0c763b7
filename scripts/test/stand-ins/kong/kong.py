#!/usr/bin/python3
"""Stand-in for Kong 2.8 in DB-less mode.

  kong docker-start   reads KONG_DECLARATIVE_CONFIG and proxies on KONG_PROXY_LISTEN (default 0.0.0.0:8000); with
                      KONG_STATUS_LISTEN (default off) also serves the Status API there
                      after preparing its prefix as Kong's entrypoint does (`kong prepare`): KONG_PREFIX (default
                      /usr/local/kong) gets nginx.conf, pids/nginx.pid and logs/; a prefix it cannot write (a
                      read-only root without a tmpfs there) stops the start, as Kong's does
  kong health         exit 0 when the prefix's pid file names this running node and the proxy answers on 127.0.0.1
                      (any HTTP status, as Kong's own check only asks whether the node runs), 1 otherwise
  kong version        2.8.1

Of the declarative config it reads services (name, url), their routes (name, paths, strip_path: prefix match, longest
first, strip_path true by default as in Kong) and the prometheus plugin (global, or on a service or a route); other
plugins are ignored (the cors plugin: no CORS headers here). The YAML reader covers block mappings and sequences, flat
flow sequences ([a, b]), plain/quoted scalars and comments: what kong.yml.mustache renders.
Unmatched requests get Kong's 404 {"message":"no Route matched with those values"}; an unreachable upstream 502.

The prometheus plugin as Kong 2.8.1 has it (kong/plugins/prometheus/{exporter,handler,schema,status_api}.lua):
  - loaded when KONG_PLUGINS (default bundled) names it or says bundled; a config that enables a plugin not loaded,
    or gives it a field its 2.8 schema has not (only per_consumer: status_code_metrics & co. are Kong 3's), is
    refused at start as Kong refuses it;
  - loaded, its /metrics is on the Status API whether or not the config enables it; only where it is enabled does
    its log phase count: kong_http_status{service,route,code} (service: the service's name or host; route: the
    route's name or id), counted after the answer, 502s of an unreachable upstream included; a request no route
    matched has no service and is not counted (exporter.lua: "do not record any stats if the service is not
    present");
  - gauges on every scrape: kong_datastore_reachable 1 (DB-less: the off connector's connect() is always true) and
    kong_nginx_http_current_connections{state} (accepted, active, handled, reading, total, waiting, writing), of both
    listeners as nginx counts them. Kong's latency histograms, bandwidth and memory series are not imitated.
Anything else on the Status API, and /metrics without the plugin loaded, is Kong's 404 {"message":"Not found"};
GET /status answers {"database":{"reachable":true},"server":{...}}."""
import http.client, json, os, socket, sys, threading, urllib.parse, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def log(message):
    print("standin-kong: " + message, file=sys.stderr, flush=True)

def scalar(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if text == "{}":
        return {}
    if text.startswith("[") and text.endswith("]"):  # a flow sequence of plain or quoted scalars
        return [scalar(item) for item in text[1:-1].split(",") if item.strip()]
    return text

def strip_comment(line):
    quote = None
    for i, c in enumerate(line):
        if quote:
            quote = None if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line

def parse_yaml(text):
    lines = []
    for raw in text.splitlines():
        line = strip_comment(raw).rstrip()
        if line.strip() and line.strip() != "---":
            lines.append((len(line) - len(line.lstrip(" ")), line.strip()))
    pos = 0

    def block(indent):
        nonlocal pos
        if lines[pos][1].startswith("- ") or lines[pos][1] == "-":
            items = []
            while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("-"):
                rest = lines[pos][1][1:].strip()
                if not rest:
                    pos += 1
                    items.append(block(lines[pos][0]))
                elif ":" in rest and not rest[0] in "\"'":
                    # "- key: value" opens a mapping whose keys sit at indent + 2
                    lines[pos] = (indent + 2, rest)
                    items.append(block(indent + 2))
                else:
                    items.append(scalar(rest)); pos += 1
            return items
        mapping = {}
        while pos < len(lines) and lines[pos][0] == indent and not lines[pos][1].startswith("- "):
            key, _, value = lines[pos][1].partition(":")
            pos += 1
            if value.strip():
                mapping[scalar(key)] = scalar(value)
            elif pos < len(lines) and (lines[pos][0] > indent or (lines[pos][0] == indent and lines[pos][1].startswith("-"))):
                mapping[scalar(key)] = block(lines[pos][0])
            else:
                mapping[scalar(key)] = None
        return mapping

    return block(lines[0][0]) if lines else {}

class ConfigError(Exception):
    pass

# The fields of the prometheus plugin's config in Kong 2.8 (schema.lua), with their types.
PROMETHEUS_FIELDS = {"per_consumer": bool}

def loaded_plugins():
    names = [n.strip() for n in os.environ.get("KONG_PLUGINS", "bundled").split(",") if n.strip()]
    return set() if names == ["off"] else set(names)

def prometheus_loaded():
    plugins = loaded_plugins()
    return "bundled" in plugins or "prometheus" in plugins

def prometheus_enabled(plugins):
    """Whether a plugins list enables prometheus; refuses what Kong 2.8 refuses."""
    enabled = False
    for plugin in plugins or []:
        if not isinstance(plugin, dict) or plugin.get("name") != "prometheus" or plugin.get("enabled", True) is False:
            continue
        if not prometheus_loaded():
            raise ConfigError("plugin 'prometheus' not enabled; add it to the 'plugins' configuration property")
        for field, value in (plugin.get("config") or {}).items():
            if field not in PROMETHEUS_FIELDS:
                raise ConfigError("in 'plugins' (prometheus): config.%s: unknown field" % field)
            if not isinstance(value, PROMETHEUS_FIELDS[field]):
                raise ConfigError("in 'plugins' (prometheus): config.%s: expected a boolean" % field)
        enabled = True
    return enabled

def load_config(path):
    """The routes, longest prefix first: (prefix, strip_path, upstream URL, service label, route label, counted)."""
    with open(path) as f:
        config = parse_yaml(f.read())
    everywhere = prometheus_enabled(config.get("plugins"))
    routes = []
    for service in config.get("services") or []:
        url = urllib.parse.urlsplit(service["url"])
        service_label = service.get("name") or url.hostname
        on_service = prometheus_enabled(service.get("plugins"))
        for index, route in enumerate(service.get("routes") or []):
            route_label = route.get("name") or str(uuid.uuid5(uuid.NAMESPACE_URL, "%s#%d" % (service_label, index)))
            counted = everywhere or on_service or prometheus_enabled(route.get("plugins"))
            for prefix in route.get("paths") or []:
                routes.append((prefix, route.get("strip_path", True), url, service_label, route_label, counted))
    routes.sort(key=lambda r: -len(r[0]))
    return routes

class Metrics:
    """What the prometheus plugin keeps, and nginx's connection counts (stub_status)."""
    lock = threading.Lock()
    status = {}  # (service, route, code) -> count
    accepted = 0
    active = 0
    writing = 0
    requests = 0

    @classmethod
    def change(cls, **deltas):
        with cls.lock:
            for name, delta in deltas.items():
                setattr(cls, name, getattr(cls, name) + delta)

    @classmethod
    def count(cls, service, route, code):
        with cls.lock:
            key = (service, route, str(code))
            cls.status[key] = cls.status.get(key, 0) + 1

    @classmethod
    def exposition(cls):
        def label(value):
            return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        with cls.lock:
            connections = {
                "accepted": cls.accepted, "active": cls.active, "handled": cls.accepted, "reading": 0,
                "total": cls.requests, "waiting": cls.active - cls.writing, "writing": cls.writing,
            }
            status = sorted(cls.status.items())
        lines = [
            "# HELP kong_datastore_reachable Datastore reachable from Kong, 0 is unreachable",
            "# TYPE kong_datastore_reachable gauge",
            "kong_datastore_reachable 1",
        ]
        if status:
            lines += ["# HELP kong_http_status HTTP status codes per service/route in Kong",
                      "# TYPE kong_http_status counter"]
            lines += ['kong_http_status{service="%s",route="%s",code="%s"} %d'
                      % (label(service), label(route), code, n) for (service, route, code), n in status]
        lines += ["# HELP kong_nginx_http_current_connections Number of HTTP connections",
                  "# TYPE kong_nginx_http_current_connections gauge"]
        lines += ['kong_nginx_http_current_connections{state="%s"} %d' % item for item in sorted(connections.items())]
        return ("\n".join(lines) + "\n").encode()

class Counted(BaseHTTPRequestHandler):
    """nginx's connection and request counts, of every listener."""
    protocol_version = "HTTP/1.1"

    def setup(self):
        Metrics.change(accepted=1, active=1)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            Metrics.change(active=-1)

    # From a request's line to the end of its answer the connection is writing, as nginx counts it; between
    # requests, waiting.
    def handle_one_request(self):
        self.in_request = False
        try:
            super().handle_one_request()
        finally:
            if self.in_request:
                Metrics.change(writing=-1)

    def parse_request(self):
        if not super().parse_request():
            return False
        self.in_request = True
        Metrics.change(writing=1, requests=1)
        return True

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

class Proxy(Counted):
    routes = []

    def answer(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Server", "kong/2.8.1")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self):
        path, _, query = self.path.partition("?")
        for prefix, strip, url, service, route, counted in self.routes:
            if path.startswith(prefix):
                break
        else:
            # No route, no service: Kong's prometheus plugin does not count it.
            return self.answer(404, {"message": "no Route matched with those values"})
        status = self.proxy(prefix, strip, url, service, query)
        if counted:  # the log phase: after the answer is sent
            Metrics.count(service, route, status)

    def proxy(self, prefix, strip, url, name, query):
        path = self.path.partition("?")[0]
        rest = path[len(prefix):] if strip else path
        upstream = (url.path or "/").rstrip("/") + "/" + rest.lstrip("/")
        if query:
            upstream += "?" + query
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}
        headers["X-Forwarded-Prefix"] = prefix.rstrip("/")
        try:
            conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
            conn.request(self.command, upstream, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except OSError as error:
            log("upstream %s (%s) failed: %s" % (name, url.geturl(), error))
            self.answer(502, {"message": "An invalid response was received from the upstream server"})
            return 502
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Via", "kong/2.8.1")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return response.status

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = forward

class Status(Counted):
    """Kong's Status API (KONG_STATUS_LISTEN): read-only, GET only."""
    answer = Proxy.answer

    def do_GET(self):
        path = self.path.partition("?")[0]
        if path in ("/metrics", "/metrics/") and prometheus_loaded():
            body = Metrics.exposition()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Server", "kong/2.8.1")
            self.end_headers()
            self.wfile.write(body)
        elif path in ("/status", "/status/"):
            with Metrics.lock:
                server = {"connections_accepted": Metrics.accepted, "connections_active": Metrics.active,
                          "connections_handled": Metrics.accepted, "connections_reading": 0,
                          "connections_waiting": Metrics.active - Metrics.writing,
                          "connections_writing": Metrics.writing, "total_requests": Metrics.requests}
            self.answer(200, {"database": {"reachable": True}, "server": server})
        else:
            self.answer(404, {"message": "Not found"})

    def do_HEAD(self):
        self.answer(404, {"message": "Not found"})

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD

class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError)):
            log("%s went away: %s" % (client_address[0], error))
        else:
            super().handle_error(request, client_address)

def listen_address(variable="KONG_PROXY_LISTEN", default="0.0.0.0:8000"):
    """The first address of a Kong listen setting (flags such as reuseport after it); None when off."""
    first = os.environ.get(variable, default).split(",")[0].split()
    if not first or first[0] == "off":
        return None
    host, _, port = first[0].rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)

def serve(address, handler, what):
    server = QuietServer(address, handler)
    server.daemon_threads = True
    log("%s listening on %s:%d" % (what, address[0], address[1]))
    return server

def kong_prefix():
    return os.environ.get("KONG_PREFIX", "/usr/local/kong")

def prepare_prefix():
    """What `kong prepare` writes: the prefix's folders, its nginx.conf and (once nginx runs) the pid file."""
    prefix = kong_prefix()
    for folder in ("", "pids", "logs"):
        os.makedirs(os.path.join(prefix, folder), exist_ok=True)
    with open(os.path.join(prefix, "nginx.conf"), "w") as f:
        f.write("# stand-in: Kong renders its nginx configuration here at every start\n")
    with open(os.path.join(prefix, "pids", "nginx.pid"), "w") as f:
        f.write("%d\n" % os.getpid())

def main(argv):
    command = argv[1] if len(argv) > 1 else "help"
    if command in ("docker-start", "start"):
        config = os.environ.get("KONG_DECLARATIVE_CONFIG")
        if os.environ.get("KONG_DATABASE", "off") != "off" or not config:
            log("this stand-in runs DB-less only: set KONG_DATABASE=off and KONG_DECLARATIVE_CONFIG"); return 1
        try:
            Proxy.routes = load_config(config)
        except ConfigError as error:
            log("Error: failed parsing declarative configuration: %s" % error); return 1
        except (OSError, KeyError, IndexError, TypeError, AttributeError) as error:
            log("Error: failed loading declarative config file %s: %r" % (config, error)); return 1
        for prefix, strip, url, name, route, counted in Proxy.routes:
            log("route %s -> %s (%s, strip_path=%s%s)" % (prefix, url.geturl(), name, str(strip).lower(),
                                                          ", prometheus" if counted else ""))
        try:
            status = listen_address("KONG_STATUS_LISTEN", "off")
        except ValueError:
            log("Error: KONG_STATUS_LISTEN: %r is not ADDRESS:PORT" % os.environ["KONG_STATUS_LISTEN"]); return 1
        try:
            prepare_prefix()
        except OSError as error:
            log("Error: could not prepare Kong prefix at %s: %s" % (kong_prefix(), error)); return 1
        if status:
            status_server = serve(status, Status, "status API (/status%s)" % (", /metrics" if prometheus_loaded() else ""))
            threading.Thread(target=status_server.serve_forever, daemon=True).start()
        serve(listen_address(), Proxy, "proxy").serve_forever()
    if command == "health":
        _, port = listen_address()
        prefix = kong_prefix()
        try:
            with open(os.path.join(prefix, "pids", "nginx.pid")) as f:
                os.kill(int(f.read().strip()), 0)
        except (OSError, ValueError):
            print("nginx.......not running\n\nError: Kong is not running at %s" % prefix, file=sys.stderr)
            return 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := s.recv(4096):  # the whole answer: closing early would reset the proxy's connection
                    answer += chunk
                if answer.startswith(b"HTTP/1."):
                    print("nginx.......running\n\nKong is healthy at %s" % prefix)
                    return 0
        except OSError:
            pass
        print("nginx.......not running\n\nError: Kong is not healthy at %s" % prefix, file=sys.stderr)
        return 1
    if command == "version":
        print("2.8.1"); return 0
    print("Usage: kong COMMAND [OPTIONS]  (stand-in: docker-start, start, health, version)", file=sys.stderr)
    return 0 if command in ("help", "--help", "-h") else 1

if __name__ == "__main__":
    sys.exit(main(sys.argv))
