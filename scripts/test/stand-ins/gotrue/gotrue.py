#!/usr/bin/python3
"""Stand-in for GoTrue: log in to GOTRUE_DB_DATABASE_URL with psql (retrying, as GoTrue retries its migrations), then
create the auth tables as GoTrue's migrations do (auth-schema.sql through psql -v ON_ERROR_STOP=1, retrying the same
way), then serve on GOTRUE_API_HOST:GOTRUE_API_PORT:
  GET /health                        200 {"version":…,"name":"GoTrue",…}
  POST /token?grant_type=password    {"email":…,"password":…} checked against auth.users.encrypted_password (bcrypt,
                                     pgcrypto's crypt()): 200 {"access_token":"standin-<user id>","token_type":"bearer",
                                     "user":{"id":…,"email":…}}, else 400 {"error":"invalid_grant",…}
The access token is no JWT: only a marker that a login worked."""
import json, os, subprocess, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCHEMA = os.environ.get("GOTRUE_STANDIN_SCHEMA", "/usr/local/share/standin/auth-schema.sql")

def log(message):
    print(json.dumps({"level": "info", "component": "standin-gotrue", "msg": message}), file=sys.stderr, flush=True)

def last_line(text):
    return (text.strip().splitlines() or [""])[-1]

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
    log("database login failed, retrying in 1 s: " + last_line(done.stderr))
    time.sleep(1)
while True:
    try:
        done = subprocess.run(["psql", "--no-psqlrc", "-q", "-v", "ON_ERROR_STOP=1", "-f", SCHEMA, url],
                              capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, PGOPTIONS="-c client_min_messages=warning"))
    except subprocess.TimeoutExpired:
        log("migrations timed out, retrying"); continue
    if done.returncode == 0:
        log("migrations applied (auth.users, auth.identities)"); break
    log("migrations failed, retrying in 1 s: " + last_line(done.stderr))
    time.sleep(1)

# The password check: the values reach psql as variables (-v NAME=VALUE, quoted in SQL as :'NAME'), never inside the
# SQL text; psql interpolates variables only in what it reads from a file or stdin, not from -c.
LOGIN_SQL = """
select json_build_object('id', id, 'email', email)
from auth.users
where lower(email) = lower(:'email')
  and deleted_at is null
  and case when encrypted_password like '$2_$%' then encrypted_password = extensions.crypt(:'password', encrypted_password)
           else false end
limit 1;
"""

def password_login(email, password):
    """The user ({"id","email"}) whose email and password these are, or None."""
    try:
        done = subprocess.run(["psql", "--no-psqlrc", "-tAq", "-v", "ON_ERROR_STOP=1", "-v", "email=" + email,
                               "-v", "password=" + password, url],
                              input=LOGIN_SQL, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        log("password check timed out")
        return None
    if done.returncode != 0:
        log("password check failed: " + last_line(done.stderr))
        return None
    return json.loads(done.stdout) if done.stdout.strip() else None

class Handler(BaseHTTPRequestHandler):
    def answer(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.path.split("?")[0] == "/health":
            self.answer(200, {"version": "v2.132.3-standin", "name": "GoTrue",
                              "description": "GoTrue is a user registration and authentication API"})
        else:
            self.answer(404, {"code": 404, "msg": "Not Found"})
    do_HEAD = do_GET

    def do_POST(self):
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path != "/token":
            self.answer(404, {"code": 404, "msg": "Not Found"}); return
        grant = urllib.parse.parse_qs(query).get("grant_type", [""])[0]
        if grant != "password":
            self.answer(400, {"error": "unsupported_grant_type",
                              "error_description": "grant_type must be password in this stand-in"}); return
        try:
            params = json.loads(body or b"{}")
            email, password = params.get("email"), params.get("password")
        except (ValueError, AttributeError):
            email = password = None
        user = None
        if isinstance(email, str) and isinstance(password, str) and email and password \
                and "\0" not in email + password:
            user = password_login(email, password)
        if user is None:
            self.answer(400, {"error": "invalid_grant", "error_description": "Invalid login credentials"}); return
        self.answer(200, {"access_token": "standin-" + user["id"], "token_type": "bearer",
                          "user": {"id": user["id"], "email": user["email"]}})

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

host, port = os.environ.get("GOTRUE_API_HOST", "0.0.0.0"), int(os.environ.get("GOTRUE_API_PORT", "9999"))
log("GoTrue API started on %s:%d" % (host, port))
ThreadingHTTPServer((host, port), Handler).serve_forever()
