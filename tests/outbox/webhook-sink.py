#!/usr/bin/env python3
# tests/outbox/webhook-sink.py - a Standard Webhooks receiver for the tests.
#
#   webhook-sink.py DIR
#
# Listens on a free loopback port (written to DIR/port) and takes POSTs to
# /NAME. It verifies each request as the specification says a receiver
# must: the secrets of /NAME are the lines of DIR/secret-NAME; the
# signature header holds one or more "v1,<base64>" entries, and one of them
# must be the HMAC-SHA256 of "id.timestamp.body" under one secret; the
# timestamp must be within five minutes. What it does is read from
# DIR/mode-NAME at each request:
#   ok          answer 200 (the default)
#   hang        hold the request, answering nothing, until the mode changes;
#               then drop the connection without an answer
#   gone        answer 410
#   retry N     answer 503 with Retry-After: N
#   slow        wait 0.3 s, then answer 200
# Every request leaves one line in DIR/log:
#   NAME STATUS WEBHOOK-ID VALID TYPE USER
# with STATUS the answer given ("hung" for a dropped one) and VALID 1 when
# the signature and timestamp verified. Only ok/slow answers are deliveries.
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1]
LOCK = threading.Lock()


def mode(name):
    try:
        with open(os.path.join(DIR, "mode-" + name)) as f:
            return f.read().strip() or "ok"
    except FileNotFoundError:
        return "ok"


def secrets(name):
    try:
        with open(os.path.join(DIR, "secret-" + name)) as f:
            return [l.strip() for l in f if l.strip()]
    except FileNotFoundError:
        return []


def verify(name, headers, body):
    mid = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    sigs = headers.get("webhook-signature", "").split()
    if not mid or not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return False
    signed = mid.encode() + b"." + ts.encode() + b"." + body
    for s in secrets(name):
        key = base64.b64decode(s[6:] if s.startswith("whsec_") else s)
        want = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(want, got) for got in sigs):
            return True
    return False


def log(*fields):
    with LOCK, open(os.path.join(DIR, "log"), "a") as f:
        f.write(" ".join(str(x) for x in fields) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        name = self.path.strip("/") or "root"
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        valid = 1 if verify(name, self.headers, body) else 0
        try:
            doc = json.loads(body)
            typ, user = doc.get("type"), doc.get("data", {}).get("user")
        except ValueError:
            typ, user = "-", "-"
        wid = self.headers.get("webhook-id", "-")
        m = mode(name)
        if m == "hang":
            with open(os.path.join(DIR, "holding"), "a") as f:
                f.write(wid + "\n")
            for _ in range(1200):       # at most two minutes
                if mode(name) != "hang":
                    break
                time.sleep(0.1)
            log(name, "hung", wid, valid, typ, user)
            self.close_connection = True
            return
        if m == "slow":
            time.sleep(0.3)
            m = "ok"
        status, extra = 200, {}
        if m == "gone":
            status = 410
        elif m.startswith("retry"):
            status, extra = 503, {"Retry-After": m.split()[1]}
        log(name, status, wid, valid, typ, user)
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
srv.serve_forever()
