#!/usr/bin/env python3
"""A hostile 'CA' on 127.0.0.1: every GET answers 200 and then streams bytes without end (until the client hangs
up). Prints the port it listens on, then serves until killed. Used by the ACME tests and bench/endless-response.sh."""
import http.server
import sys


class Endless(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 65536
        frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        try:
            while True:
                self.wfile.write(frame)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endless)
print(server.server_address[1], flush=True)
sys.stdout.close()
server.serve_forever()
