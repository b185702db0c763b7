#!/usr/bin/env python3
"""An office proxy for tests: HTTP CONNECT tunnels (https://) and absolute-URI requests (http://), on a loopback port.

    counting-proxy.py LOG PORTFILE

Each request is appended to LOG as one line ("CONNECT host:port" or "GET http://host:port/path") before it is
served, and the port it listens on is written to PORTFILE once it listens. Names ending in .test resolve to
127.0.0.1 here and nowhere else, so a request to https://pebble.test:PORT/ succeeds only through this proxy.
"""
import os
import signal
import socket
import socketserver
import sys
import threading
import urllib.parse

log_path, port_file = sys.argv[1], sys.argv[2]
# A parent that blocks signals (a test runner) passes its mask on: TERM must stop this proxy.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
log_lock = threading.Lock()


def record(line):
    with log_lock, open(log_path, "a") as log:
        log.write(line + "\n")


def address(host, port):
    return ("127.0.0.1" if host.endswith(".test") else host, port)


def pipe(source, target):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        request = self.rfile.readline(65536).decode("latin-1").rstrip("\r\n")
        headers = []
        while True:
            line = self.rfile.readline(65536)
            if line in (b"\r\n", b"\n", b""):
                break
            headers.append(line)
        parts = request.split(" ")
        if len(parts) != 3:
            return
        method, target, _ = parts
        record(f"{method} {target}")
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            try:
                upstream = socket.create_connection(address(host, int(port)), timeout=10)
            except OSError as error:
                self.wfile.write(f"HTTP/1.1 502 Bad Gateway\r\n\r\n{error}\r\n".encode())
                return
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            upstream.settimeout(None)
            self.connection.settimeout(None)
            back = threading.Thread(target=pipe, args=(upstream, self.connection), daemon=True)
            back.start()
            pipe(self.connection, upstream)
            back.join(30)
            upstream.close()
            return
        url = urllib.parse.urlsplit(target)
        if url.scheme != "http" or not url.hostname:
            self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection(address(url.hostname, url.port or 80), timeout=10)
        except OSError as error:
            self.wfile.write(f"HTTP/1.1 502 Bad Gateway\r\n\r\n{error}\r\n".encode())
            return
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        kept = [h for h in headers if not h.lower().startswith((b"connection:", b"proxy-"))]
        upstream.sendall(f"{method} {path} HTTP/1.1\r\n".encode() + b"".join(kept) + b"Connection: close\r\n\r\n")
        pipe(upstream, self.connection)
        upstream.close()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


with Server(("127.0.0.1", 0), Handler) as server:
    with open(port_file + ".new", "w") as out:
        out.write(str(server.server_address[1]))
    os.rename(port_file + ".new", port_file)
    server.serve_forever()
