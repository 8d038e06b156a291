#!/usr/bin/env python3
# NAME
#   milter-seeds.py - writes the seeds of fuzz-milter (tests/fuzz/corpus/milter).
#
# SYNOPSIS
#   python3 tests/fuzz/milter-seeds.py [SRCDIR]
#
# DESCRIPTION
#   Turns the messages of fuzz-sync's seeds (tests/fuzz/corpus/sync/*.eml)
#   into the step scripts fuzz-milter reads (see the head of
#   tests/fuzz/fuzz-milter.c): a connection, MAIL, RCPT, each header as
#   libmilter hands it over, the end of headers, the body in chunks, and
#   the end of message. The messages take turns at the ways a message
#   comes to the milter: outbound by a SASL login, outbound by the
#   daemon name (ORIGINATING), inbound to users, inbound for no user with
#   the users known (not collected), spooled and recorded from the spool
#   folder, headers without their leading blank, and an abort before a
#   second message; a few more are made for the purpose (a body past the
#   4K spool_mem_limit, an empty message, a replay). The output is the
#   same on every run: rerun it after changing the seed messages or the
#   step format, and commit the result.
#
# EXIT STATUS
#   0, or 1 when SRCDIR has no seed messages.
import os
import struct
import sys

OPS = "CHMRhxEB.SAU"


def field(b):
    if isinstance(b, str):
        b = b.encode("utf-8", "surrogateescape")
    b = b[:65535]
    return struct.pack(">H", len(b)) + b


def step(op, *fields):
    assert op in OPS
    return op.encode() + b"".join(field(f) for f in fields)


def split_message(raw):
    """(headers as (name, value with its leading blank), body) of @raw."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = raw.find(sep)
        if i >= 0:
            head, body = raw[:i], raw[i + len(sep):]
            break
    else:
        head, body = raw, b""
    headers = []
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + b"\r\n" + line)
        elif b":" in line:
            name, value = line.split(b":", 1)
            headers.append((name, value))
    body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return headers, body


def message(raw, leadspc=True, chunk=1500):
    headers, body = split_message(raw)
    out = b""
    for name, value in headers:
        if leadspc:
            out += step("h", name, value)
        else:
            out += step("x", name, value.lstrip(b" \t"))
    out += step("E")
    for i in range(0, len(body), chunk):
        out += step("B", body[i:i + chunk])
    return out


def connect(daemon=b"", name=b"client.example.org", addr=b"192.0.2.7"):
    return step("C", daemon, name, addr) + step("H", b"client.example.org")


def outbound_login(raw):
    return (connect() + step("M", b"<rep@example.test>", b"rep@example.test", b"")
            + step("R", b"<customer@example.org>") + step("R", b"<boss@example.test>")
            + message(raw) + step("."))


def outbound_daemon(raw):
    return (connect(b"ORIGINATING") + step("M", b"<rep@example.test>", b"", b"ORIGINATING")
            + step("R", b"<customer@example.org>") + step("R", b"<new.person@prospect.example>")
            + message(raw) + step("."))


def inbound_users(raw):
    return (step("U") + connect(b"smtpd") + step("M", b"<customer@example.org>", b"", b"smtpd")
            + step("R", b"<rep@example.test>") + step("R", b"<agent@example.test>")
            + message(raw) + step("."))


def inbound_no_user(raw):
    return (step("U") + connect(b"smtpd") + step("M", b"<someone@example.net>", b"", b"smtpd")
            + step("R", b"<stranger@example.com>") + message(raw) + step(".")
            + step("M", b"<customer@example.org>", b"", b"smtpd") + step("R", b"<rep@example.test>")
            + message(raw) + step("."))


def spooled(raw):
    return (connect(b"smtpd") + step("M", b"<customer@example.org>", b"", b"smtpd")
            + step("R", b"<rep@example.test>") + message(raw, chunk=700) + step("S"))


def no_leadspc(raw):
    return (connect() + step("M", b"rep@example.test", b"rep@example.test", b"")
            + step("R", b"customer@example.org") + message(raw, leadspc=False) + step("."))


def aborted(raw):
    return (connect() + step("M", b"<rep@example.test>", b"rep@example.test", b"")
            + step("R", b"<customer@example.org>") + message(raw) + step("A")
            + step("M", b"<rep@example.test>", b"rep@example.test", b"")
            + step("R", b"<customer@example.org>") + message(raw) + step("."))


KINDS = [outbound_login, outbound_daemon, inbound_users, inbound_no_user, spooled, no_leadspc, aborted]


def main():
    srcdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    seeds = os.path.join(srcdir, "tests", "fuzz", "corpus", "sync")
    out = os.path.join(srcdir, "tests", "fuzz", "corpus", "milter")
    names = sorted(n for n in os.listdir(seeds) if n.endswith(".eml"))
    if not names:
        print("milter-seeds.py: no messages in %s" % seeds, file=sys.stderr)
        return 1
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        if old.startswith("seed-"):
            os.unlink(os.path.join(out, old))
    written = 0
    for i, name in enumerate(names):
        with open(os.path.join(seeds, name), "rb") as f:
            raw = f.read()
        kind = KINDS[i % len(KINDS)]
        path = os.path.join(out, "seed-%s-%s" % (kind.__name__.replace("_", "-"), name[:-4]))
        with open(path, "wb") as f:
            f.write(kind(raw))
        written += 1
    # made for the purpose
    big = (b"From: Rep <rep@example.test>\r\nTo: customer@example.org\r\nSubject: the quote\r\n"
           b"Message-ID: <big@example.test>\r\n\r\n" + b"a line of the offer, long enough\r\n" * 400)
    extra = {
        "seed-big-past-spool-limit": outbound_login(big) + inbound_users(big),
        "seed-big-spooled": spooled(big),
        "seed-empty": connect() + step("M", b"<>", b"", b"") + step("R", b"<rep@example.test>") + step("."),
        "seed-headers-only": (connect() + step("M", b"<customer@example.org>", b"", b"")
                              + step("R", b"<rep@example.test>") + step("h", b"Subject", b" hi")
                              + step("S")),
        "seed-replay": outbound_login(big) + step("M", b"<rep@example.test>", b"rep@example.test", b"")
        + step("R", b"<customer@example.org>") + message(big) + step("S"),
    }
    for name, data in sorted(extra.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        written += 1
    print("milter-seeds.py: %d seeds in %s" % (written, os.path.normpath(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
