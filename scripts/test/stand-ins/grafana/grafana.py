#!/usr/bin/python3
"""Stand-in for Grafana 10.4: the start-up checks, the health endpoint, /metrics (Grafana serves its own metrics
there without a login unless [metrics] enabled = false), and the dashboards provisioned from files, read through
the HTTP API with the admin's basic auth (anonymous access is off in sbs's grafana.ini).

Refuses to start (exit 1) when GF_SECURITY_ADMIN_PASSWORD is empty (the real Grafana falls back to "admin"; the
stack must never run with that, so the stand-in treats it as an error), when GF_PATHS_CONFIG cannot be read or
parsed as INI, when GF_PATHS_PROVISIONING is set but not a folder, when the data folder is not writable, or when a
dashboard provider file cannot be read (as Grafana, whose start fails on a provisioning error).

Dashboards, as Grafana 10.4 provisions them at start: every *.yml / *.yaml file of $GF_PATHS_PROVISIONING/dashboards
is read (apiVersion 1: `providers:`, each of type file with a unique name and options.path), and every *.json file
under each provider's path, in its subfolders too, becomes a dashboard of the provider's folder (`folder:`, or
General). A file that is not JSON, not an object, or has no title is logged as an error and left out, as Grafana
does. Stricter than Grafana, so a broken dashboard shows: one without a uid (Grafana would make one up, different
on every new database, which breaks links to it) is left out too, and so are ALL the dashboards that share a uid
(Grafana keeps the last one it reads and logs the duplicate). Read once at start (Grafana polls every
updateIntervalSeconds).

The YAML reader covers what provider files hold: block mappings and sequences, plain and quoted scalars, flat flow
sequences and comments; anything else (block scalars, flow mappings, anchors, tabs) stops the start.

  GET /api/health                  {"database":"ok",…}, no login
  GET /metrics                     grafana_build_info, no login
  GET /api/search[?type=dash-db|dash-folder][&query=TEXT]
                                   folders, then dashboards, by title (query: a case-insensitive part of the title)
  GET /api/dashboards/uid/UID      {"dashboard": …, "meta": …}; 404 {"message":"Dashboard not found"}
The /api routes but health need HTTP basic auth GF_SECURITY_ADMIN_USER (admin):GF_SECURITY_ADMIN_PASSWORD, else
401. Listens on [server] http_addr / GF_SERVER_HTTP_ADDR (default all addresses) and http_port /
GF_SERVER_HTTP_PORT (default 3000)."""
import base64, configparser, hashlib, hmac, json, os, re, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def log(level, message, **fields):
    extra = "".join(' %s="%s"' % (k, str(v).replace('"', "'")) for k, v in fields.items())
    print('logger=standin-grafana t=standin level=%s msg="%s"%s' % (level, message, extra), file=sys.stderr, flush=True)

def fail(message):
    log("error", message)
    sys.exit(1)

# --- a YAML reader for provider files -------------------------------------------------------------------------

class YAMLError(Exception):
    pass

def scalar(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if text in ("", "~", "null"):
        return None
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if text.startswith("[") and text.endswith("]"):  # a flow sequence of plain or quoted scalars
        return [scalar(item) for item in text[1:-1].split(",") if item.strip()]
    if text[0] in "{|>&*!%@`" or text.startswith("[") or text.startswith("- "):
        raise YAMLError("unsupported YAML: %s" % text)
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
    for number, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YAMLError("line %d: a tab in the indentation" % number)
        line = strip_comment(raw).rstrip()
        if line.strip() and line.strip() != "---":
            lines.append((len(line) - len(line.lstrip(" ")), line.strip(), number))
    pos = 0

    def block(indent):
        nonlocal pos
        if lines[pos][1].startswith("- ") or lines[pos][1] == "-":
            items = []
            while pos < len(lines) and lines[pos][0] == indent and (lines[pos][1].startswith("- ") or lines[pos][1] == "-"):
                rest = lines[pos][1][1:].strip()
                if not rest:
                    pos += 1
                    if pos >= len(lines) or lines[pos][0] <= indent:
                        items.append(None)
                    else:
                        items.append(block(lines[pos][0]))
                elif re.match(r"[^\"'][^:]*:( |$)", rest):
                    # "- key: value" opens a mapping whose keys sit at indent + 2
                    lines[pos] = (indent + 2, rest, lines[pos][2])
                    items.append(block(indent + 2))
                else:
                    items.append(scalar(rest))
                    pos += 1
            return items
        mapping = {}
        while pos < len(lines) and lines[pos][0] == indent and not lines[pos][1].startswith("- "):
            text, number = lines[pos][1], lines[pos][2]
            match = re.match(r"(\"[^\"]*\"|'[^']*'|[^:]+):( |$)(.*)", text)
            if not match:
                raise YAMLError("line %d: not `key: value`: %s" % (number, text))
            key, value = scalar(match.group(1)), match.group(3)
            if key in mapping:
                raise YAMLError("line %d: %s is given twice" % (number, key))
            pos += 1
            if value.strip():
                mapping[key] = scalar(value)
            elif pos < len(lines) and (lines[pos][0] > indent or (lines[pos][0] == indent and lines[pos][1].startswith("- "))):
                mapping[key] = block(lines[pos][0])
            else:
                mapping[key] = None
        return mapping

    document = block(lines[0][0]) if lines else {}
    if pos < len(lines):
        raise YAMLError("line %d: unexpected indentation: %s" % (lines[pos][2], lines[pos][1]))
    return document

# --- start-up checks ------------------------------------------------------------------------------------------

admin_user = os.environ.get("GF_SECURITY_ADMIN_USER") or "admin"
admin_password = os.environ.get("GF_SECURITY_ADMIN_PASSWORD", "")
# As Grafana does for every setting: VARIABLE__FILE names a file holding the value (a Docker secret).
if os.environ.get("GF_SECURITY_ADMIN_PASSWORD__FILE"):
    try:
        with open(os.environ["GF_SECURITY_ADMIN_PASSWORD__FILE"]) as f:
            admin_password = f.read().rstrip("\n")
    except OSError as error:
        fail("cannot read GF_SECURITY_ADMIN_PASSWORD__FILE: %s" % error)
if not admin_password:
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
address = os.environ.get("GF_SERVER_HTTP_ADDR") or config.get("server", "http_addr", fallback="") or "0.0.0.0"

# --- dashboards -----------------------------------------------------------------------------------------------

def slugify(title):
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")

def providers():
    """Every provider of the dashboard provider files; exits on a file Grafana would not start with."""
    folder = os.path.join(provisioning, "dashboards")
    if not os.path.isdir(folder):
        return []
    found, names = [], set()
    for name in sorted(os.listdir(folder)):
        if not name.endswith((".yml", ".yaml")):
            continue
        file = os.path.join(folder, name)
        try:
            with open(file) as f:
                document = parse_yaml(f.read())
        except (OSError, UnicodeDecodeError, YAMLError) as error:
            fail("Failed to read dashboard provisioning file %s: %s" % (file, error))
        if not isinstance(document, dict) or document.get("apiVersion") != 1 or not isinstance(document.get("providers"), list):
            fail("Failed to read dashboard provisioning file %s: apiVersion 1 with a list of providers expected" % file)
        for provider in document["providers"]:
            if not isinstance(provider, dict) or not provider.get("name"):
                fail("Failed to read dashboard provisioning file %s: a provider without a name" % file)
            if provider["name"] in names:
                fail("Failed to read dashboard provisioning file %s: dashboard provider name %s is used twice" % (file, provider["name"]))
            names.add(provider["name"])
            if (provider.get("type") or "file") != "file":
                fail("Failed to read dashboard provisioning file %s: provider %s: only type file is known here" % (file, provider["name"]))
            options = provider.get("options")
            if not isinstance(options, dict) or not isinstance(options.get("path"), str) or not options["path"]:
                fail("Failed to read dashboard provisioning file %s: provider %s has no options.path" % (file, provider["name"]))
            found.append(provider)
    return found

def load_dashboards():
    """(folders, dashboards): folders by uid, dashboards by uid, as Grafana lists them."""
    folders, candidates = {}, []
    for provider in providers():
        title = provider.get("folder") or ""
        folder = None
        if title:
            uid = provider.get("folderUid") or hashlib.sha1(title.encode()).hexdigest()[:14]
            folder = folders.setdefault(uid, {"id": len(folders) + 1, "uid": uid, "title": title})
        root = provider["options"]["path"]
        if not os.path.isdir(root):
            log("error", "Cannot read directory", provider=provider["name"], path=root)
            continue
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            files += [os.path.join(dirpath, n) for n in sorted(filenames) if n.endswith(".json")]
        for file in files:
            try:
                with open(file, encoding="utf-8") as f:
                    dashboard = json.load(f)
            except (OSError, UnicodeDecodeError, ValueError) as error:
                log("error", "failed to load dashboard from", file=file, error=error)
                continue
            if not isinstance(dashboard, dict):
                log("error", "failed to load dashboard from", file=file, error="not a JSON object")
                continue
            if not isinstance(dashboard.get("title"), str) or not dashboard["title"].strip():
                log("error", "failed to save dashboard", file=file, error="Dashboard title cannot be empty")
                continue
            if not isinstance(dashboard.get("uid"), str) or not dashboard["uid"]:
                log("error", "failed to save dashboard", file=file,
                    error="no uid (the stand-in refuses what Grafana would give a random uid)")
                continue
            candidates.append((dashboard, folder, provider, file))
    uses = {}
    for dashboard, _, _, file in candidates:
        uses.setdefault(dashboard["uid"], []).append(file)
    for uid, files in sorted(uses.items()):
        if len(files) > 1:
            log("error", "the same UID is used more than once", uid=uid, files=", ".join(files))
    dashboards = {}
    for dashboard, folder, provider, file in candidates:
        if len(uses[dashboard["uid"]]) > 1:
            continue
        dashboard = dict(dashboard, id=len(dashboards) + 1, version=dashboard.get("version") or 1)
        dashboards[dashboard["uid"]] = {"dashboard": dashboard, "folder": folder, "provider": provider,
                                        "file": os.path.relpath(file, provider["options"]["path"])}
    log("info", "finished to provision dashboards", dashboards=len(dashboards), folders=len(folders))
    return folders, dashboards

folders, dashboards = load_dashboards()

def folder_url(folder):
    return "/dashboards/f/%s/%s" % (folder["uid"], slugify(folder["title"]))

def search_hit(entry):
    dashboard, folder = entry["dashboard"], entry["folder"]
    slug = slugify(dashboard["title"])
    hit = {"id": dashboard["id"], "uid": dashboard["uid"], "title": dashboard["title"], "uri": "db/" + slug,
           "url": "/d/%s/%s" % (dashboard["uid"], slug), "slug": "", "type": "dash-db",
           "tags": sorted(t for t in dashboard.get("tags") or [] if isinstance(t, str)), "isStarred": False, "sortMeta": 0}
    if folder:
        hit.update(folderId=folder["id"], folderUid=folder["uid"], folderTitle=folder["title"], folderUrl=folder_url(folder))
    return hit

def search(query):
    kinds = query.get("type", ["dash-folder", "dash-db"])
    text = (query.get("query") or [""])[0].lower()
    hits = []
    if "dash-folder" in kinds:
        for folder in sorted(folders.values(), key=lambda f: f["title"].lower()):
            if text in folder["title"].lower():
                hits.append({"id": folder["id"], "uid": folder["uid"], "title": folder["title"],
                             "uri": "db/" + slugify(folder["title"]), "url": folder_url(folder), "slug": "",
                             "type": "dash-folder", "tags": [], "isStarred": False, "sortMeta": 0})
    if "dash-db" in kinds:
        for entry in sorted(dashboards.values(), key=lambda e: e["dashboard"]["title"].lower()):
            if text in entry["dashboard"]["title"].lower():
                hits.append(search_hit(entry))
    return hits

def dashboard_by_uid(uid):
    entry = dashboards.get(uid)
    if entry is None:
        return 404, {"message": "Dashboard not found"}
    dashboard, folder, provider = entry["dashboard"], entry["folder"], entry["provider"]
    slug = slugify(dashboard["title"])
    ui_updates = provider.get("allowUiUpdates") is True
    meta = {"type": "db", "canSave": ui_updates, "canEdit": ui_updates, "canAdmin": True, "canStar": True,
            "canDelete": provider.get("disableDeletion") is not True, "slug": slug,
            "url": "/d/%s/%s" % (uid, slug), "expires": "0001-01-01T00:00:00Z", "created": "2024-01-01T00:00:00Z",
            "updated": "2024-01-01T00:00:00Z", "updatedBy": "Anonymous", "createdBy": "Anonymous",
            "version": dashboard["version"], "hasAcl": False, "isFolder": False,
            "folderId": folder["id"] if folder else 0, "folderUid": folder["uid"] if folder else "",
            "folderTitle": folder["title"] if folder else "General", "folderUrl": folder_url(folder) if folder else "",
            "provisioned": True, "provisionedExternalId": entry["file"]}
    return 200, {"dashboard": dashboard, "meta": meta}

def authorized(header):
    """None when the basic auth is the admin's, else the 401 message."""
    if not header or not header.startswith("Basic "):
        return "Unauthorized"
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return "Unauthorized"
    if hmac.compare_digest(user.encode(), admin_user.encode()) and hmac.compare_digest(password.encode(), admin_password.encode()):
        return None
    return "Invalid username or password"

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        content_type = "application/json"
        url = urllib.parse.urlsplit(self.path)
        route = url.path
        if route == "/api/health":
            status, body = 200, {"commit": "standin", "database": "ok", "version": "10.4.2"}
        elif route == "/metrics" and metrics_enabled:
            status, content_type = 200, "text/plain; version=0.0.4"
            body = ('# HELP grafana_build_info A metric with a constant 1 value labeled by version.\n'
                    '# TYPE grafana_build_info gauge\ngrafana_build_info{version="10.4.2"} 1\n')
        elif route.startswith("/api/") and authorized(self.headers.get("Authorization")):
            status, body = 401, {"message": authorized(self.headers.get("Authorization"))}
        elif route == "/api/search":
            status, body = 200, search(urllib.parse.parse_qs(url.query))
        elif route.startswith("/api/dashboards/uid/"):
            status, body = dashboard_by_uid(urllib.parse.unquote(route[len("/api/dashboards/uid/"):]))
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

log("info", "HTTP Server Listen address=%s:%d" % (address, port))
ThreadingHTTPServer((address, port), Handler).serve_forever()
