#!/usr/bin/env python3
"""Latency probe for a running `mailscore serve`, used by bench/ingest.sh.

Sends --count messages one after another (one SMTP session each, to fresh
test ids), and for each measures:
  - end of DATA to the 250 reply (the time the sender waits for us; the
    message is durable on disk by then), and
  - end of DATA to the report being available: one long-poll
    (GET /api/tests/{id}?wait=30, answered when the report is committed),
    as `mailscore wait` and the pending page wait; or, with --poll-ms N,
    GET /api/tests/{id} every N ms until its status is "done" (the probe's
    method before 2026-12-06: it adds up to N ms, and its requests load
    the server it measures).
Prints one line with p50/p99/max of both, in milliseconds, and exits 1 if
any message was refused or its report never came. Run it alone for the
unloaded figure, or beside smtp-source for latency under load.

Python 3 standard library only.
"""

import argparse
import json
import socket
import sys
import time
import urllib.request


def recv_reply(sock_file):
    """One SMTP reply (possibly multi-line): (code, text)."""
    lines = []
    while True:
        line = sock_file.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        lines.append(line.decode("latin-1").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return int(lines[-1][:3]), "\n".join(lines)


def send(host, port, rcpt, body):
    """Delivers one message; returns seconds from end of DATA to the 250."""
    with socket.create_connection((host, port), timeout=30) as sock:
        # Without it, Nagle holds the final ".\r\n" for the server's delayed
        # ACK (40 ms on Linux) and the probe measures its own socket.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = sock.makefile("rb")
        expect(recv_reply(f), 220)
        for command, code in (
            (b"EHLO mail.x.example\r\n", 250),
            (b"MAIL FROM:<probe@x.example>\r\n", 250),
            (b"RCPT TO:<" + rcpt.encode() + b">\r\n", 250),
            (b"DATA\r\n", 354),
        ):
            sock.sendall(command)
            expect(recv_reply(f), code)
        sock.sendall(body)
        start = time.perf_counter()
        sock.sendall(b".\r\n")
        expect(recv_reply(f), 250)
        took = time.perf_counter() - start
        sock.sendall(b"QUIT\r\n")
        return start, took


def expect(reply, code):
    if reply[0] != code:
        raise RuntimeError(f"expected {code}, got {reply[1]!r}")


def wait_report(http, test_id, poll, deadline):
    url = f"{http}/api/tests/{test_id}"
    if poll <= 0:
        url += "?wait=30"
    while time.perf_counter() < deadline:
        with urllib.request.urlopen(url, timeout=40) as response:
            if json.load(response).get("status") == "done":
                return time.perf_counter()
        time.sleep(poll)
    return None


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smtp", default="127.0.0.1:2525")
    parser.add_argument("--http", default="http://127.0.0.1:8080")
    parser.add_argument("--domain", default="localhost")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--poll-ms", type=float, default=0.0,
                        help="poll every N ms instead of one long-poll (0)")
    parser.add_argument("--label", default="probe")
    args = parser.parse_args()
    host, port = args.smtp.rsplit(":", 1)
    run = f"{int(time.time()) % 100000}"
    acks, reports, lost = [], [], 0
    for n in range(args.count):
        test_id = f"probe-{run}-{n}"
        body = (
            f"From: Probe <probe@x.example>\r\nTo: {test_id}@{args.domain}\r\n"
            f"Subject: latency probe {n}\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{test_id}@x.example>\r\n\r\n" + "hello probe\r\n" * 150
        ).encode()
        start, ack = send(host, int(port), f"{test_id}@{args.domain}", body)
        acks.append(ack)
        done = wait_report(args.http, test_id, args.poll_ms / 1000, start + 30)
        if done is None:
            lost += 1
        else:
            reports.append(done - start)
    if not reports:
        print(f"{args.label}: no report arrived for any of {args.count} messages")
        sys.exit(1)
    ms = lambda v: f"{v * 1000:.1f}"
    print(
        f"{args.label}: {len(acks)} messages; end of DATA → 250 ms "
        f"p50 {ms(percentile(acks, 50))} p99 {ms(percentile(acks, 99))} max {ms(max(acks))}; "
        f"→ report available ms p50 {ms(percentile(reports, 50))} "
        f"p99 {ms(percentile(reports, 99))} max {ms(max(reports))} "
        f"({f'polled every {args.poll_ms} ms' if args.poll_ms > 0 else 'long-poll'}); "
        f"reports missing: {lost}"
    )
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
