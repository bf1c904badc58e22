#!/usr/bin/env python3
"""A validating webhook that allows everything and saves each request body.

Serves HTTPS on 127.0.0.1 on a free port and prints that port on stdout. Each
AdmissionReview it is sent is written unchanged to OUT_DIR as
NN-OPERATION-KIND.json (NN counts from 01). It exits when its stdin reaches
end of file or it is sent SIGTERM.

    capture_webhook.py CERT KEY OUT_DIR
"""
import http.server
import json
import os
import ssl
import sys
import threading

lock = threading.Lock()
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    out_dir = ""

    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = json.loads(body)["request"]
        with lock:
            count += 1
            name = "%02d-%s-%s.json" % (count, request["operation"], request["kind"]["kind"])
        with open(os.path.join(Handler.out_dir, name), "wb") as f:
            f.write(body)
        answer = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                             "response": {"uid": request["uid"], "allowed": True}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, fmt, *args):
        pass


def main():
    cert, key, Handler.out_dir = sys.argv[1:4]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
