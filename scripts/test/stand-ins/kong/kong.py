#!/usr/bin/python3
"""Stand-in for Kong 2.8 in DB-less mode.

  kong docker-start   reads KONG_DECLARATIVE_CONFIG and proxies on KONG_PROXY_LISTEN (default 0.0.0.0:8000)
  kong health         exit 0 when the proxy answers on 127.0.0.1 (any HTTP status, as Kong's own check only asks
                      whether the node runs), 1 otherwise
  kong version        2.8.1

Of the declarative config it reads services (name, url), their routes (paths, strip_path: prefix match, longest
first, strip_path true by default as in Kong) and ignores plugins (the cors plugin: no CORS headers here). The YAML
reader covers block mappings and sequences, flat flow sequences ([a, b]), plain/quoted scalars
and comments: what kong.yml.mustache renders.
Unmatched requests get Kong's 404 {"message":"no Route matched with those values"}; an unreachable upstream 502."""
import http.client, json, os, socket, sys, urllib.parse
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

def load_routes(path):
    with open(path) as f:
        config = parse_yaml(f.read())
    routes = []
    for service in config.get("services") or []:
        url = urllib.parse.urlsplit(service["url"])
        for route in service.get("routes") or []:
            for prefix in route.get("paths") or []:
                routes.append((prefix, route.get("strip_path", True), url, service.get("name", "")))
    routes.sort(key=lambda r: -len(r[0]))
    return routes

class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
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
        for prefix, strip, url, name in self.routes:
            if path.startswith(prefix):
                break
        else:
            return self.answer(404, {"message": "no Route matched with those values"})
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
            return self.answer(502, {"message": "An invalid response was received from the upstream server"})
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Via", "kong/2.8.1")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = forward

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError)):
            log("%s went away: %s" % (client_address[0], error))
        else:
            super().handle_error(request, client_address)

def listen_address():
    first = os.environ.get("KONG_PROXY_LISTEN", "0.0.0.0:8000").split(",")[0].split()[0]
    host, _, port = first.rpartition(":")
    return host or "0.0.0.0", int(port)

def main(argv):
    command = argv[1] if len(argv) > 1 else "help"
    if command in ("docker-start", "start"):
        config = os.environ.get("KONG_DECLARATIVE_CONFIG")
        if os.environ.get("KONG_DATABASE", "off") != "off" or not config:
            log("this stand-in runs DB-less only: set KONG_DATABASE=off and KONG_DECLARATIVE_CONFIG"); return 1
        try:
            Proxy.routes = load_routes(config)
        except (OSError, KeyError, IndexError, TypeError, AttributeError) as error:
            log("Error: failed loading declarative config file %s: %r" % (config, error)); return 1
        for prefix, strip, url, name in Proxy.routes:
            log("route %s -> %s (%s, strip_path=%s)" % (prefix, url.geturl(), name, str(strip).lower()))
        host, port = listen_address()
        server = QuietServer((host, port), Proxy)
        server.daemon_threads = True
        log("proxy listening on %s:%d" % (host, port))
        server.serve_forever()
    if command == "health":
        _, port = listen_address()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := s.recv(4096):  # the whole answer: closing early would reset the proxy's connection
                    answer += chunk
                if answer.startswith(b"HTTP/1."):
                    print("nginx.......running\n\nKong is healthy at /usr/local/kong")
                    return 0
        except OSError:
            pass
        print("nginx.......not running\n\nError: Kong is not healthy at /usr/local/kong", file=sys.stderr)
        return 1
    if command == "version":
        print("2.8.1"); return 0
    print("Usage: kong COMMAND [OPTIONS]  (stand-in: docker-start, start, health, version)", file=sys.stderr)
    return 0 if command in ("help", "--help", "-h") else 1

if __name__ == "__main__":
    sys.exit(main(sys.argv))
