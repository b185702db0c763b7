#!/usr/bin/python3
"""Stand-in for Ollama 0.3: no models are run, only what the stack and sbs talk to.

  ollama serve        HTTP on OLLAMA_HOST (default 127.0.0.1:11434; the image sets 0.0.0.0:11434):
                        GET  /                "Ollama is running"
                        GET  /api/version     {"version":"0.3.14"}
                        GET  /api/tags        {"models":[{"name","model","modified_at","size","digest","details"}]}
                        POST /api/pull        {"model"|"name": NAME, "stream": true}: NDJSON progress as the real
                                              server streams it (manifest, layers, verifying, writing, success) over
                                              about 1.5 s, then the model is recorded under OLLAMA_MODELS
                                              (/root/.ollama/models); a name containing "does-not-exist" streams
                                              {"error":"pull model manifest: file does not exist"}
  ollama list         asks the server (OLLAMA_HOST, else 127.0.0.1:11434); prints NAME ID SIZE MODIFIED;
                      exit 1 when it does not answer
  ollama pull NAME    pulls through the server, printing progress
  ollama -v           ollama version is 0.3.14"""
import hashlib, http.client, json, os, sys, time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "0.3.14"
MODELS = os.environ.get("OLLAMA_MODELS") or os.path.expanduser("~/.ollama/models")
MANIFESTS = os.path.join(MODELS, "manifests", "registry.ollama.ai")

def host_port():
    value = os.environ.get("OLLAMA_HOST", "") or "127.0.0.1:11434"
    value = value.split("://", 1)[-1].rstrip("/")
    host, _, port = value.rpartition(":") if ":" in value else (value, "", "11434")
    return host or "127.0.0.1", int(port or 11434)

def normalize(name):
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"

def manifest_path(name):
    repo, _, tag = normalize(name).rpartition(":")
    if "/" not in repo:
        repo = "library/" + repo
    return os.path.join(MANIFESTS, repo, tag)

def models():
    found = []
    for folder, _, files in os.walk(MANIFESTS):
        for tag in files:
            with open(os.path.join(folder, tag)) as f:
                found.append(json.load(f))
    return sorted(found, key=lambda m: m["modified_at"], reverse=True)

class Server(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, body, content_type="application/json; charset=utf-8"):
        data = body if isinstance(body, bytes) else (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/":
            self.send(200, b"Ollama is running", "text/plain; charset=utf-8")
        elif path == "/api/version":
            self.send(200, {"version": VERSION})
        elif path == "/api/tags":
            self.send(200, {"models": models()})
        else:
            self.send(404, b"404 page not found", "text/plain")
    do_HEAD = do_GET

    def do_POST(self):
        if self.path.split("?")[0] != "/api/pull":
            return self.send(404, b"404 page not found", "text/plain")
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            name = request.get("model") or request.get("name") or ""
        except (ValueError, AttributeError):
            return self.send(400, {"error": "invalid request body"})
        if not name:
            return self.send(400, {"error": "model is required"})
        stream = request.get("stream", True) is not False
        failed = "does-not-exist" in name
        if not stream:
            time.sleep(0.2)
            if failed:
                return self.send(500, {"error": "pull model manifest: file does not exist"})
            self.record(name)
            return self.send(200, {"status": "success"})
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self.stream_pull(name, failed)
        except (BrokenPipeError, ConnectionResetError):
            print("pull of %s cancelled: the client went away" % name, file=sys.stderr, flush=True)
            self.close_connection = True

    def stream_pull(self, name, failed):
        self.line({"status": "pulling manifest"})
        time.sleep(0.2)
        if failed:
            self.line({"error": "pull model manifest: file does not exist"})
        else:
            seed = hashlib.sha256(normalize(name).encode()).hexdigest()
            layers = [("sha256:" + hashlib.sha256((seed + str(i)).encode()).hexdigest(), total)
                      for i, total in enumerate((self.size(name), 11974, 1429, 485))]
            for digest, total in layers:
                steps = 5 if total > 1e6 else 1
                for k in range(1, steps + 1):
                    self.line({"status": "pulling " + digest[7:19], "digest": digest, "total": total,
                               "completed": total * k // steps})
                    time.sleep(0.2 if steps > 1 else 0.05)
            for status in ("verifying sha256 digest", "writing manifest", "removing any unused layers", "success"):
                if status == "success":
                    self.record(name)
                self.line({"status": status})
                time.sleep(0.05)
        self.wfile.write(b"0\r\n\r\n")

    def line(self, document):
        data = (json.dumps(document) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    @staticmethod
    def size(name):
        return 1_000_000_000 + int(hashlib.sha256(normalize(name).encode()).hexdigest()[:8], 16) % 3_000_000_000

    def record(self, name):
        path = manifest_path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        full = normalize(name)
        document = {"name": full, "model": full,
                    "modified_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "size": self.size(name), "digest": hashlib.sha256(("manifest:" + full).encode()).hexdigest(),
                    "details": {"format": "gguf", "family": "standin", "parameter_size": "3B",
                                "quantization_level": "Q4_K_M"}}
        with open(path + ".tmp", "w") as f:
            json.dump(document, f)
        os.replace(path + ".tmp", path)

    def log_message(self, fmt, *args):
        print("[GIN] %s | %s" % (self.address_string(), fmt % args), file=sys.stderr, flush=True)

def client(method, path, body=None):
    host, port = host_port()
    conn = http.client.HTTPConnection("127.0.0.1" if host in ("0.0.0.0", "::") else host, port, timeout=10)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        return conn.getresponse()
    except OSError:
        print("Error: could not connect to ollama app, is it running?", file=sys.stderr)
        sys.exit(1)

def human_size(n):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return ("%d %s" if unit == "B" else "%.1f %s") % (n, unit)
        n /= 1000

def ago(stamp):
    seconds = (datetime.now(timezone.utc) - datetime.fromisoformat(stamp)).total_seconds()
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = int(seconds // size)
            return "%d %s%s ago" % (n, unit, "" if n == 1 else "s")
    return "Less than a minute ago" if seconds >= 1 else "Now"

def main(argv):
    command = argv[1] if len(argv) > 1 else "help"
    if command == "serve":
        os.makedirs(MANIFESTS, exist_ok=True)
        host, port = host_port()
        server = ThreadingHTTPServer((host, port), Server)
        server.daemon_threads = True
        print("Listening on %s:%d (version %s, stand-in)" % (host, port, VERSION), file=sys.stderr, flush=True)
        server.serve_forever()
    if command in ("list", "ls"):
        response = client("GET", "/api/tags")
        if response.status != 200:
            print("Error: " + response.read().decode(errors="replace"), file=sys.stderr)
            return 1
        rows = [("NAME", "ID", "SIZE", "MODIFIED")] + [
            (m["name"], m["digest"][:12], human_size(m["size"]), ago(m["modified_at"]))
            for m in json.load(response)["models"]]
        widths = [max(len(row[i]) for row in rows) + 4 for i in range(3)]
        for row in rows:
            print("".join(cell.ljust(width) for cell, width in zip(row, widths)) + row[3])
        return 0
    if command == "pull" and len(argv) > 2:
        response = client("POST", "/api/pull", {"model": argv[2]})
        for raw in response:
            event = json.loads(raw)
            if "error" in event:
                print("Error: " + event["error"], file=sys.stderr)
                return 1
            print(event["status"] + ("  %d/%d" % (event["completed"], event["total"]) if "total" in event else ""))
        return 0
    if command in ("-v", "--version"):
        print("ollama version is " + VERSION)
        return 0
    print("Usage: ollama serve | list | pull MODEL | -v   (stand-in)", file=sys.stderr)
    return 0 if command in ("help", "--help", "-h") else 1

if __name__ == "__main__":
    sys.exit(main(sys.argv))
