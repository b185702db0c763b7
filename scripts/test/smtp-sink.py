#!/usr/bin/env python3
"""An SMTP server on loopback that keeps what it receives, for the alert tests:
smtp-sink.py PORT DIR [--login USER PASSWORD] [--tls CERT KEY] [--listen ADDRESS]

Speaks enough of RFC 5321 for a mail client (EHLO/HELO, STARTTLS, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET,
NOOP, QUIT). With --login it refuses mail until the client logged in with USER and PASSWORD (535 for wrong ones);
with --tls it offers STARTTLS with that certificate and takes no login before it. Each message is written to
DIR/N.eml (renamed into place once whole), headed by X-Sink-Login:, X-Sink-TLS:, X-Sink-From: and X-Sink-To: lines.
--listen: the address to listen on (default 127.0.0.1; 0.0.0.0 in a container). Serves until killed.
"""
import base64
import os
import socketserver
import ssl
import sys

port = int(sys.argv[1])
folder = sys.argv[2]
options = sys.argv[3:]
login = tls = None
listen = "127.0.0.1"
while options:
    if options[0] == "--login":
        login, options = (options[1], options[2]), options[3:]
    elif options[0] == "--tls":
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(options[1], options[2])
        options = options[3:]
    elif options[0] == "--listen":
        listen, options = options[1], options[2:]
    else:
        sys.exit("smtp-sink: unknown option " + options[0])
os.makedirs(folder, exist_ok=True)
counter = [0]


class Session(socketserver.StreamRequestHandler):
    def say(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def read(self):
        line = self.rfile.readline()
        if not line:
            raise EOFError
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self):
        user, sender, recipients, secured = None, None, [], False
        self.say("220 sbs-test-sink ESMTP")
        try:
            while True:
                line = self.read()
                verb = line.split(" ", 1)[0].upper()
                argument = line[len(verb) :].strip()
                if verb == "EHLO":
                    self.say("250-sbs-test-sink")
                    if tls and not secured:
                        self.say("250-STARTTLS")
                    else:
                        self.say("250-AUTH PLAIN LOGIN")
                    self.say("250 8BITMIME")
                elif verb == "STARTTLS" and tls and not secured:
                    self.say("220 go ahead")
                    self.connection = tls.wrap_socket(self.connection, server_side=True)
                    self.rfile = self.connection.makefile("rb")
                    self.wfile = self.connection.makefile("wb")
                    secured = True
                elif verb == "HELO":
                    self.say("250 sbs-test-sink")
                elif verb == "AUTH" and tls and not secured:
                    self.say("538 encryption required for this mechanism")
                elif verb == "AUTH":
                    parts = argument.split(" ", 1)
                    if parts[0].upper() == "PLAIN":
                        blob = parts[1] if len(parts) > 1 else (self.say("334 ") or self.read())
                        _, name, password = base64.b64decode(blob).decode().split("\0")
                    elif parts[0].upper() == "LOGIN":
                        self.say("334 " + base64.b64encode(b"Username:").decode())
                        name = base64.b64decode(self.read()).decode()
                        self.say("334 " + base64.b64encode(b"Password:").decode())
                        password = base64.b64decode(self.read()).decode()
                    else:
                        self.say("504 unknown mechanism")
                        continue
                    if login and (name, password) != login:
                        self.say("535 authentication failed")
                        continue
                    user = name
                    self.say("235 authenticated")
                elif verb == "MAIL":
                    if login and user is None:
                        self.say("530 authentication required")
                        continue
                    sender, recipients = argument.split(":", 1)[1].strip(), []
                    self.say("250 ok")
                elif verb == "RCPT":
                    recipients.append(argument.split(":", 1)[1].strip())
                    self.say("250 ok")
                elif verb == "DATA":
                    self.say("354 go on")
                    lines = []
                    while True:
                        data = self.read()
                        if data == ".":
                            break
                        lines.append(data[1:] if data.startswith("..") else data)
                    counter[0] += 1
                    path = os.path.join(folder, "%d.eml" % counter[0])
                    with open(path + ".partial", "w") as out:
                        out.write(
                            "X-Sink-Login: %s\nX-Sink-TLS: %s\nX-Sink-From: %s\nX-Sink-To: %s\n"
                            % (user, "yes" if secured else "no", sender, " ".join(recipients))
                        )
                        out.write("\n".join(lines) + "\n")
                    os.rename(path + ".partial", path)
                    self.say("250 kept")
                elif verb in ("RSET", "NOOP"):
                    self.say("250 ok")
                elif verb == "QUIT":
                    self.say("221 bye")
                    return
                else:
                    self.say("502 not implemented")
        except (EOFError, ConnectionError, ValueError, ssl.SSLError):
            return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server((listen, port), Session).serve_forever()
