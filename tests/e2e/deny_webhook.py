#!/usr/bin/env python3
"""A validating admission webhook that denies every request, for e2e tests.

Serves HTTPS on 127.0.0.1 on a free port, prints that port on stdout, and logs
each AdmissionReview it answers (operation, kind, namespace, name, user) on
stderr. It exits when its stdin reaches end of file, so a test that runs it as
a coprocess cannot leave it behind, even when the test is killed.

    deny_webhook.py CERT KEY MESSAGE
"""
import http.server
import json
import os
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    message = ""

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        review = json.loads(self.rfile.read(length))
        request = review["request"]
        name = request.get("name") or request.get("object", {}).get("metadata", {}).get("name", "")
        user = request.get("userInfo", {}).get("username", "")
        print(f"deny_webhook: {request['operation']} {request['kind']['kind']} "
              f"{request.get('namespace', '')}/{name} by {user}", file=sys.stderr, flush=True)
        body = json.dumps({
            "apiVersion": review.get("apiVersion", "admission.k8s.io/v1"),
            "kind": "AdmissionReview",
            "response": {
                "uid": request["uid"],
                "allowed": False,
                "status": {"code": 403, "reason": "Forbidden",
                           "message": f"{Handler.message} ({request['kind']['kind']} {name})"},
            },
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def main():
    cert, key, Handler.message = sys.argv[1:4]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # returns when the parent closes the pipe or dies
    os._exit(0)


if __name__ == "__main__":
    main()
