#!/usr/bin/env python3
"""Load-and-abuse run against a real `mailscore serve`, on loopback only.

Starts target/release/mailscore (building it if missing) on free 127.0.0.1
ports with its own temporary data dir, a DNS server that is a closed port
(every check ends as "could not be checked") and small SMTP limits. Then,
for --seconds (and at most --max-sessions sessions), --clients threads mix
good deliveries to distinct test ids with abuse: binary noise with NULs,
100 KB lines, commands out of order, pipelined floods, clients that vanish
mid-DATA, idle and trickling clients, a stalled TLS ClientHello after
STARTTLS, oversize messages, too many recipients, relay attempts and
connection floods, from 127.0.0.1 and other 127.0.0.x addresses. Slow
clients (idle, trickling, stalled TLS) started before the end hold on until
the server drops them, so the load can last up to ~40 s past --seconds.

Afterwards it waits for the report of every message that got `250`
(GET /api/tests/{id}) and compares the stored message
(GET /tests/{id}/message.eml) with what was sent, checks that no refused or
cut-off message was stored, and prints: delivered, refused (by reply),
lost (acknowledged but no report or no stored message), the server's peak
and current RSS, and whether it still answers SMTP and HTTP. It exits 1 if
anything was lost, corrupted or stored when it should not have been, if the
server died, panicked or stopped answering; the server is always killed at
the end.

    python3 bench/abuse.py --seconds 60

Python 3 standard library only.
"""

import argparse
import collections
import concurrent.futures
import http.client
import json
import os
import random
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

DOMAIN = "test.example"
LOOPBACK = "127.0.0.1"
# Small limits so each one is reached quickly.
COMMAND_TIMEOUT = 5  # --smtp-command-timeout
DATA_TIMEOUT = 10  # --smtp-data-timeout
MAX_MESSAGE_SIZE = 256 * 1024  # --max-message-size
MAX_PER_IP = 20  # --max-connections-per-ip
MESSAGES_PER_MINUTE = 60  # --messages-per-ip-per-minute
MAX_RECIPIENTS = 10  # SmtpSettings::DEFAULT_MAX_RECIPIENTS
MAX_COMMANDS = 2000  # SmtpLimits::default().max_commands
TLS_HANDSHAKE_TIMEOUT = 30  # smtp/tls.rs HANDSHAKE_TIMEOUT
# How long any one socket operation may block this script.
SOCKET_TIMEOUT = 20

GOOD_SOURCES = [f"127.0.0.{n}" for n in range(1, 9)]
ABUSE_SOURCES = ["127.0.0.1"] + [f"127.0.0.{n}" for n in range(9, 41)]
CONNECTION_FLOOD_SOURCE = "127.0.0.88"
MESSAGE_FLOOD_SOURCE = "127.0.0.77"


def loopback_only(address):
    assert address.startswith("127."), address
    return address


def free_port():
    """A port nothing listens on right now (TCP and UDP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind((LOOPBACK, 0))
        port = tcp.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.bind((LOOPBACK, port))
        except OSError:
            return free_port()
    return port


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class Smtp:
    """A raw SMTP client from a chosen loopback source address."""

    def __init__(self, port, source, timeout=SOCKET_TIMEOUT):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((loopback_only(source), 0))
        self.sock.connect((LOOPBACK, port))
        self.buf = b""
        self.replies = []  # every reply's last line, in order

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as err:
            raise Closed() from err

    def _line(self):
        while b"\r\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError as err:
                raise Closed() from err
            if not chunk:
                raise Closed()
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("ascii", "replace")

    def reply(self):
        """The next whole reply, as its last line (code and text)."""
        while True:
            line = self._line()
            if len(line) < 4 or line[3] != "-":
                self.replies.append(line)
                return line

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def drain(self, limit):
        """Reads replies until the server closes or `limit` seconds pass;
        True if it closed."""
        self.sock.settimeout(limit)
        try:
            while True:
                self.reply()
        except Closed:
            return True
        except (socket.timeout, TimeoutError):
            return False

    def reset(self):
        """Closes with a TCP reset instead of a FIN."""
        self.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        self.sock.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def starttls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)


def code(line):
    return line[:3] if line else ""


def reason(line):
    """A reply without per-client detail: code, enhanced code and text."""
    return line.strip()


class Run:
    """Shared state of one run: counters, ids, limits."""

    def __init__(self, args, smtp_port):
        self.args = args
        self.port = smtp_port
        self.lock = threading.Lock()
        self.rng = random.Random(args.seed)
        self.run_tag = "".join(self.rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(5))
        self.counter = 0
        self.sessions = 0
        self.kinds = collections.Counter()
        self.kind_errors = collections.Counter()  # (kind, error reply) -> n
        self.unexpected = collections.defaultdict(list)  # kind -> samples
        self.unexpected_n = collections.Counter()  # kind -> sessions
        self.acked = {}  # id -> expected stored bytes
        self.acked_at = {}  # id -> monotonic time of the 250
        self.not_stored = set()  # ids whose message was refused or cut off
        self.delivery_attempts = 0
        self.delivered_messages = 0
        self.delivery_refused = collections.Counter()  # reply -> n
        self.client_errors = collections.Counter()  # our own exceptions
        self.slow = threading.Semaphore(max(1, args.clients // 3))
        self.deadline = time.monotonic() + args.seconds
        # --rate: when the next session may start (all workers share it).
        self.next_start = time.monotonic()

    def pace(self):
        """Waits for this session's turn at --rate sessions a second."""
        if not self.args.rate:
            return
        with self.lock:
            start = max(self.next_start, time.monotonic())
            self.next_start = start + 1.0 / self.args.rate
        time.sleep(max(0.0, start - time.monotonic()))

    def new_id(self):
        with self.lock:
            self.counter += 1
            return f"ab-{self.run_tag}-{self.counter}"

    def note(self, kind, replies, expected_ok, detail=""):
        """Records one finished session: its error replies, and whether the
        server answered as it should."""
        with self.lock:
            self.kinds[kind] += 1
            for line in replies:
                if code(line)[:1] in ("4", "5"):
                    self.kind_errors[(kind, reason(line))] += 1
            if not expected_ok:
                self.unexpected_n[kind] += 1
                if len(self.unexpected[kind]) < 2:
                    self.unexpected[kind].append(f"{detail}: {replies[-3:]}")


def message_for(rng, ids, size):
    """A message to `ids` of about `size` bytes: (bytes as stored, bytes as
    sent after DATA, dot-stuffed and terminated)."""
    lines = [
        "From: Load Test <sender@example.com>",
        "To: " + ", ".join(f"{i}@{DOMAIN}" for i in ids),
        f"Subject: abuse run {ids[0]}",
        "Date: Tue, 14 Nov 2023 22:13:20 +0000",
        f"Message-ID: <{ids[0]}@example.com>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        ".leading dot, stuffed on the wire",
        "..two dots",
        ".",
    ]
    while sum(len(line) + 2 for line in lines) < size:
        lines.append("".join(rng.choice("abcdefghij klmnop.") for _ in range(rng.randint(1, 200))))
    stored = "".join(line + "\r\n" for line in lines).encode()
    wire = "".join(("." + line if line.startswith(".") else line) + "\r\n" for line in lines)
    return stored, wire.encode() + b".\r\n"


# --- the kinds of client -------------------------------------------------
# Each takes (run, rng) and returns (the server's replies, whether they were
# what the server should say, a note for when they were not).


def good_delivery(run, rng, tls=False, pipelined=False, size=None, long_line=False):
    ids = [run.new_id() for _ in range(2 if rng.random() < 0.2 else 1)]
    stored, wire = message_for(rng, ids, size or rng.randint(300, 20_000))
    if long_line:
        # One 100 KB body line: not a command, so within the size cap it is
        # just part of the message.
        head, _, _ = stored.partition(b"\r\n\r\n")
        stored = head + b"\r\n\r\n" + b"x" * 100_000 + b"\r\n"
        wire = stored + b".\r\n"
    src = rng.choice(GOOD_SOURCES)
    with run.lock:
        run.delivery_attempts += 1
    conn = Smtp(run.port, src)
    refused = None
    try:
        greeting = conn.reply()
        if code(greeting) != "220":
            refused = greeting
        else:
            if tls:
                conn.cmd("EHLO good.example")
                line = conn.cmd("STARTTLS")
                if code(line) != "220":
                    refused = line
                else:
                    conn.starttls()
            if refused is None and pipelined and not tls:
                commands = ["EHLO good.example", "MAIL FROM:<sender@example.com>"]
                commands += [f"RCPT TO:<{i}@{DOMAIN}>" for i in ids] + ["DATA"]
                conn.send("".join(c + "\r\n" for c in commands).encode())
                for command in commands:
                    line = conn.reply()
                    want = "354" if command == "DATA" else "250"
                    if code(line) != want and refused is None:
                        refused = line
            elif refused is None:
                for command in (
                    ["EHLO good.example", "MAIL FROM:<sender@example.com>"]
                    + [f"RCPT TO:<{i}@{DOMAIN}>" for i in ids]
                    + ["DATA"]
                ):
                    line = conn.cmd(command)
                    want = "354" if command == "DATA" else "250"
                    if code(line) != want:
                        refused = line
                        break
            if refused is None:
                conn.send(wire)
                line = conn.reply()
                if code(line) == "250":
                    now = time.monotonic()
                    with run.lock:
                        run.delivered_messages += 1
                        for i in ids:
                            run.acked[i] = stored
                            run.acked_at[i] = now
                else:
                    refused = line
                try:
                    conn.cmd("QUIT")
                except Closed:
                    pass
    except Closed:
        refused = refused or "(connection closed by server)"
    finally:
        conn.close()
    if refused is not None:
        with run.lock:
            run.delivery_refused[reason(refused)] += 1
            run.not_stored.update(i for i in ids if i not in run.acked)
    # A refusal by a limit (450, 421) is the server doing its job.
    return conn.replies, True, ""


def noise(run, rng):
    conn = Smtp(run.port, rng.choice(ABUSE_SOURCES))
    data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1_000, 64_000)))
    data = data.replace(b"\x00", b"\x00\x00")  # plenty of NULs
    try:
        conn.reply()
        conn.send(data)
        conn.send(b"QUIT\r\n")
    except Closed:
        pass
    closed = conn.drain(COMMAND_TIMEOUT + 5)
    conn.close()
    return conn.replies, closed, "did not close"


def long_command_line(run, rng):
    conn = Smtp(run.port, rng.choice(ABUSE_SOURCES))
    ok = False
    try:
        conn.reply()
        conn.cmd("EHLO long.example")
        conn.send(b"NOOP " + b"A" * 100_000 + b"\r\n")
        line = conn.reply()
        ok = line.startswith("500 5.5.2") and code(conn.cmd("NOOP")) == "250"
        conn.cmd("QUIT")
    except Closed:
        pass
    conn.close()
    return conn.replies, ok, "no 500 5.5.2 then 250"


def out_of_order(run, rng):
    conn = Smtp(run.port, rng.choice(ABUSE_SOURCES))
    id_ = run.new_id()
    with run.lock:
        run.not_stored.add(id_)
    sequence = [
        ("DATA", "503"),
        (f"RCPT TO:<{id_}@{DOMAIN}>", "503"),
        ("MAIL FROM:<a@example.com>", "503"),
        ("HELO out.example", "250"),
        ("DATA", "503"),
        ("MAIL FROM:<a@example.com>", None),  # 250, or 450 when rate-limited
        ("MAIL FROM:<a@example.com>", None),  # 503 nested, or 450
        ("DATA", "503"),
        ("BDAT 10 LAST", "502"),
        ("AUTH PLAIN AAAA", "502"),
        ("RSET", "250"),
        ("QUIT", "221"),
    ]
    middle = sequence[4:8]
    rng.shuffle(middle)
    sequence[4:8] = middle
    ok = True
    try:
        conn.reply()
        for command, want in sequence:
            line = conn.cmd(command)
            if want and code(line) != want and not line.startswith("421 4.7.0"):
                ok = False
    except Closed:
        pass
    conn.close()
    return conn.replies, ok, "unexpected reply order"


def pipelined_flood(run, rng):
    """3,000 pipelined commands: answered in order up to the server's
    cap on commands per session (2,000), then `421 4.7.0` and closed."""
    conn = Smtp(run.port, rng.choice(ABUSE_SOURCES))
    commands = [rng.choice(["NOOP", "RSET", "HELO flood.example", "VRFY x", "HELP"]) for _ in range(3000)]
    ok = False
    try:
        conn.reply()
        conn.send("".join(c + "\r\n" for c in commands + ["QUIT"]).encode())
        for _ in range(MAX_COMMANDS + 1):
            conn.reply()
        last = conn.replies[-1]
        ok = last.startswith("421 4.7.0") and len(conn.replies) == MAX_COMMANDS + 2
    except Closed:
        pass
    conn.close()
    return conn.replies, ok, f"{len(conn.replies)} replies to {len(commands) + 2} commands"


def message_flood(run, rng):
    """Many MAIL commands from one address: the per-address bucket empties."""
    conn = Smtp(run.port, MESSAGE_FLOOD_SOURCE)
    try:
        conn.reply()
        conn.cmd("EHLO flood.example")
        conn.send(b"MAIL FROM:<a@example.com>\r\nRSET\r\n" * 80 + b"QUIT\r\n")
    except Closed:
        pass
    conn.drain(COMMAND_TIMEOUT + 5)
    conn.close()
    return conn.replies, True, ""


def cut_mid_data(run, rng):
    id_ = run.new_id()
    with run.lock:
        run.not_stored.add(id_)
    conn = Smtp(run.port, rng.choice(ABUSE_SOURCES))
    ok = True
    try:
        conn.reply()
        conn.cmd("EHLO cut.example")
        conn.cmd("MAIL FROM:<a@example.com>")
        conn.cmd(f"RCPT TO:<{id_}@{DOMAIN}>")
        if code(conn.cmd("DATA")) == "354":
            _, wire = message_for(rng, [id_], rng.randint(100, 30_000))
            # Anything short of the final dot, even the CRLF before it.
            conn.send(wire[: rng.randint(0, len(wire) - 3)])
    except Closed:
        pass
    if rng.random() < 0.5:
        conn.reset()
    else:
        conn.close()
    return conn.replies, ok, ""


def idle(run, rng):
    conn = Smtp(run.port, rng.choice(ABUSE_SOURCES), timeout=COMMAND_TIMEOUT + 10)
    ok = False
    try:
        conn.reply()
        if rng.random() < 0.5:
            conn.cmd("EHLO idle.example")
        conn.reply()  # nothing more from us: the server gives up
    except Closed:
        pass
    except (socket.timeout, TimeoutError):
        pass
    ok = bool(conn.replies) and conn.replies[-1].startswith("421 4.4.2")
    conn.close()
    return conn.replies, ok, "no 421 4.4.2 idle"


def trickle(run, rng):
    """A body that arrives a line every half second: the DATA deadline ends it."""
    id_ = run.new_id()
    with run.lock:
        run.not_stored.add(id_)
    conn = Smtp(run.port, rng.choice(ABUSE_SOURCES), timeout=DATA_TIMEOUT + 10)
    ok = False
    try:
        conn.reply()
        conn.cmd("EHLO slow.example")
        conn.cmd("MAIL FROM:<a@example.com>")
        conn.cmd(f"RCPT TO:<{id_}@{DOMAIN}>")
        if code(conn.cmd("DATA")) == "354":
            conn.sock.settimeout(0.5)
            started = time.monotonic()
            while time.monotonic() - started < DATA_TIMEOUT + 8:
                conn.send(b"a slow line\r\n")
                try:
                    conn.reply()
                    break
                except (socket.timeout, TimeoutError):
                    continue
    except Closed:
        pass
    ok = bool(conn.replies) and conn.replies[-1].startswith("421 4.4.2")
    conn.close()
    return conn.replies, ok, "no 421 4.4.2 body too long"


def stalled_tls(run, rng):
    """STARTTLS, then half a ClientHello and silence."""
    conn = Smtp(run.port, rng.choice(ABUSE_SOURCES))
    ok = False
    try:
        conn.reply()
        conn.cmd("EHLO tls.example")
        if code(conn.cmd("STARTTLS")) == "220":
            # A handshake record header announcing 512 bytes, and 6 of them.
            conn.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            started = time.monotonic()
            closed = conn.drain(TLS_HANDSHAKE_TIMEOUT + 8)
            ok = closed and time.monotonic() - started <= TLS_HANDSHAKE_TIMEOUT + 5
    except Closed:
        pass
    conn.close()
    return conn.replies, ok, "stalled handshake not closed in time"


def oversize(run, rng):
    id_ = run.new_id()
    with run.lock:
        run.not_stored.add(id_)
    conn = Smtp(run.port, rng.choice(ABUSE_SOURCES))
    ok = False
    try:
        conn.reply()
        conn.cmd("EHLO big.example")
        if rng.random() < 0.3:
            line = conn.cmd(f"MAIL FROM:<a@example.com> SIZE={MAX_MESSAGE_SIZE + 1}")
            ok = line.startswith("552 5.3.4") or line.startswith("450 4.7.1")
        else:
            line = conn.cmd("MAIL FROM:<a@example.com>")
            if code(line) == "450":
                ok = True
            elif code(conn.cmd(f"RCPT TO:<{id_}@{DOMAIN}>")) == "250":
                conn.cmd("DATA")
                _, wire = message_for(rng, [id_], MAX_MESSAGE_SIZE + rng.randint(10, 100_000))
                conn.send(wire)
                ok = conn.reply().startswith("552 5.3.4")
        conn.cmd("QUIT")
    except Closed:
        pass
    conn.close()
    return conn.replies, ok, "oversize not refused with 552"


def too_many_recipients(run, rng):
    ids = [run.new_id() for _ in range(MAX_RECIPIENTS + 3)]
    with run.lock:
        run.not_stored.update(ids)
    conn = Smtp(run.port, rng.choice(ABUSE_SOURCES))
    ok = False
    try:
        conn.reply()
        conn.cmd("EHLO many.example")
        if code(conn.cmd("MAIL FROM:<a@example.com>")) == "450":
            ok = True
        else:
            codes = [code(conn.cmd(f"RCPT TO:<{i}@{DOMAIN}>")) for i in ids]
            ok = codes == ["250"] * MAX_RECIPIENTS + ["452"] * 3
            conn.cmd("RSET")  # nothing is sent: none of these ids is stored
        conn.cmd("QUIT")
    except Closed:
        pass
    conn.close()
    return conn.replies, ok, "recipients not capped at 10"


def relay(run, rng):
    conn = Smtp(run.port, rng.choice(ABUSE_SOURCES))
    targets = [
        "victim@elsewhere.example",
        f"abc@{DOMAIN}.elsewhere.example",
        "abc@[127.0.0.1]",
        f"victim%elsewhere.example@{DOMAIN}",
        f"@hop.example:victim@elsewhere.example",
        "victim",
    ]
    ok = False
    try:
        conn.reply()
        conn.cmd("EHLO relay.example")
        if code(conn.cmd("MAIL FROM:<spammer@example.com>")) == "450":
            ok = True
        else:
            codes = [code(conn.cmd(f"RCPT TO:<{t}>")) for t in targets]
            data = code(conn.cmd("DATA"))
            ok = all(c[:1] == "5" or c == "421" for c in codes) and data in ("503", "421", "")
        conn.cmd("QUIT")
    except Closed:
        pass
    conn.close()
    return conn.replies, ok, "a relay recipient was accepted"


def connection_flood(run, rng):
    """More connections from one address than it may have open."""
    conns, greetings = [], []
    for _ in range(MAX_PER_IP + 5):
        try:
            c = Smtp(run.port, CONNECTION_FLOOD_SOURCE)
            conns.append(c)
        except OSError:
            break
    for c in conns:
        try:
            greetings.append(code(c.reply()))
        except (Closed, socket.timeout, TimeoutError):
            greetings.append("")
    for c in conns:
        c.close()
    refused = greetings.count("421")
    ok = refused >= 1 and greetings.count("220") <= MAX_PER_IP
    replies = [line for c in conns for line in c.replies]
    return replies, ok, f"{greetings.count('220')} greeted, {refused} refused"


KINDS = {
    # name: (function, weight, slow)
    "good": (good_delivery, 30, False),
    "good_pipelined": (lambda r, g: good_delivery(r, g, pipelined=True), 8, False),
    "good_starttls": (lambda r, g: good_delivery(r, g, tls=True), 8, False),
    "good_long_body_line": (lambda r, g: good_delivery(r, g, long_line=True), 2, False),
    "noise": (noise, 8, False),
    "long_command_line": (long_command_line, 5, False),
    "out_of_order": (out_of_order, 6, False),
    "pipelined_flood": (pipelined_flood, 4, False),
    "message_flood": (message_flood, 2, False),
    "cut_mid_data": (cut_mid_data, 8, False),
    "oversize": (oversize, 4, False),
    "too_many_recipients": (too_many_recipients, 4, False),
    "relay": (relay, 6, False),
    "connection_flood": (connection_flood, 1, False),
    "idle": (idle, 3, True),
    "trickle": (trickle, 1, True),
    "stalled_tls": (stalled_tls, 2, True),
}
GOOD_KINDS = {k for k in KINDS if k.startswith("good")}


def worker(run, index):
    rng = random.Random(f"{run.args.seed}-{index}")
    names = list(KINDS)
    weights = [KINDS[n][1] for n in names]
    while time.monotonic() < run.deadline:
        run.pace()
        with run.lock:
            if run.sessions >= run.args.max_sessions:
                return
            run.sessions += 1
            good_full = len(run.acked) >= run.args.max_good
        name = rng.choices(names, weights)[0]
        if name in GOOD_KINDS and good_full:
            continue
        function, _, slow = KINDS[name]
        if slow and not run.slow.acquire(blocking=False):
            continue
        try:
            replies, ok, detail = function(run, rng)
            run.note(name, replies, ok, detail)
        except (OSError, Closed) as err:
            with run.lock:
                run.kinds[name] += 1
                run.client_errors[f"{name}: {type(err).__name__}: {err}"[:120]] += 1
        finally:
            if slow:
                run.slow.release()


# --- the server ------------------------------------------------------------


def http_get(port, path, timeout=10):
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def http_post(port, path, timeout=10):
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("POST", path, body=b"")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def proc_status(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
    except OSError:
        pass
    return fields


def wait_until_up(server, smtp_port, http_port, limit=30):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            status, _ = http_get(http_port, "/api/openapi.json", timeout=2)
            conn = Smtp(smtp_port, LOOPBACK, timeout=2)
            greeting = conn.reply()
            conn.cmd("QUIT")
            conn.close()
            if status == 200 and greeting.startswith("220"):
                return True
        except (OSError, Closed):
            pass
        time.sleep(0.2)
    return False


def still_answering(smtp_port, http_port):
    problems = []
    try:
        conn = Smtp(smtp_port, LOOPBACK, timeout=10)
        if not conn.reply().startswith("220"):
            problems.append("no SMTP greeting")
        elif code(conn.cmd("EHLO final.example")) != "250":
            problems.append("no EHLO reply")
        conn.cmd("QUIT")
        conn.close()
    except (OSError, Closed) as err:
        problems.append(f"SMTP: {err!r}")
    try:
        status, body = http_post(http_port, "/api/tests")
        if status != 201 or "address" not in json.loads(body):
            problems.append(f"POST /api/tests answered {status}")
    except (OSError, ValueError) as err:
        problems.append(f"HTTP: {err!r}")
    return problems


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def print_latency_windows(run, reported_at, started, load_seconds):
    """250-to-report p50/p99 per 5-minute window of the load (by the 250)."""
    window = 300 if load_seconds > 600 else max(10, load_seconds / 5)
    rows = collections.defaultdict(list)
    for id_, at in reported_at.items():
        rows[int((run.acked_at[id_] - started) // window)].append(at - run.acked_at[id_])
    print(f"250-to-report by {window:.0f} s window (p50 / p99 / n):")
    for n in sorted(rows):
        values = rows[n]
        print(
            f"  {n * window:>6.0f} s  {statistics.median(values) * 1000:7.0f} ms "
            f"{p99(values) * 1000:7.0f} ms  {len(values):>6}"
        )


def print_rss(rss, warm_up):
    """RSS over the run: after warm-up, how far it moved."""
    if not rss:
        return
    settled = [kb for t, kb in rss if t >= warm_up] or [rss[-1][1]]
    first, last = settled[0], settled[-1]
    drift = (last - first) * 100 / first if first else 0
    spread = (max(settled) - min(settled)) * 100 / min(settled) if min(settled) else 0
    print(
        f"RSS every sample: {len(rss)} samples, {rss[0][1] / 1024:.1f} MB at start; after "
        f"{warm_up:.0f} s warm-up {first / 1024:.1f} MB → {last / 1024:.1f} MB at the end "
        f"({drift:+.1f} %), min {min(settled) / 1024:.1f} / max {max(settled) / 1024:.1f} MB "
        f"(spread {spread:.1f} %)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of the mixed load (default 60)")
    parser.add_argument("--clients", type=int, default=12, help="concurrent client threads (default 12)")
    parser.add_argument("--max-sessions", type=int, default=20000, help="stop after this many sessions (default 20000)")
    parser.add_argument(
        "--max-good", type=int, default=150,
        help="stop good deliveries after this many acknowledged ids (each report "
        "takes ~12 s of DNS timeouts against the closed port; default 150)",
    )
    parser.add_argument("--report-timeout", type=float, default=300, help="seconds to wait for reports (default 300)")
    parser.add_argument("--rate", type=float, default=0, help="sessions a second, steady (default 0: as fast as the clients go)")
    parser.add_argument("--dns", default=None, help="DNS server HOST:PORT (default: a closed port, every check 'could not check')")
    parser.add_argument("--rss-every", type=float, default=10, help="seconds between RSS samples (default 10)")
    parser.add_argument("--warm-up", type=float, default=120, help="seconds of load before RSS counts as settled (default 120)")
    parser.add_argument("--seed", default="mailscore", help="random seed")
    parser.add_argument("--binary", default=None, help="default: target/release/mailscore")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and server log")
    parser.add_argument(
        "--serve-arg", action="append", default=[],
        help="one more argument for serve (repeat it), e.g. --serve-arg=--store-cache-mb --serve-arg=8",
    )
    args = parser.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = args.binary or os.path.join(root, "target", "release", "mailscore")
    if not os.path.exists(binary):
        print("building", binary, flush=True)
        subprocess.run(["cargo", "build", "--release"], cwd=root, check=True)

    data_dir = tempfile.mkdtemp(prefix="mailscore-abuse-")
    smtp_port, http_port, dns_port = free_port(), free_port(), free_port()
    log_path = os.path.join(data_dir, "server.log")
    log = open(log_path, "wb")
    command = [
        binary, "serve",
        "--data-dir", os.path.join(data_dir, "db"),
        "--smtp-listen", f"{LOOPBACK}:{smtp_port}",
        "--http-listen", f"{LOOPBACK}:{http_port}",
        "--domain", DOMAIN,
        "--dns", args.dns or f"{LOOPBACK}:{dns_port}",
        "--dns-timeout", "1",
        "--max-message-size", str(MAX_MESSAGE_SIZE),
        "--smtp-command-timeout", str(COMMAND_TIMEOUT),
        "--smtp-data-timeout", str(DATA_TIMEOUT),
        "--max-connections-per-ip", str(MAX_PER_IP),
        "--messages-per-ip-per-minute", str(MESSAGES_PER_MINUTE),
        *args.serve_arg,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSCORE_")}
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    failures = []
    try:
        if not wait_until_up(server, smtp_port, http_port):
            print("server did not start; log:", open(log_path, "rb").read().decode(errors="replace"))
            return 1
        print(
            f"server pid {server.pid}: SMTP {LOOPBACK}:{smtp_port}, HTTP {LOOPBACK}:{http_port}, "
            f"DNS {args.dns or f'{LOOPBACK}:{dns_port} (closed)'}, data {data_dir}",
            flush=True,
        )
        print(
            f"load: {args.seconds:.0f} s, {args.clients} clients, at most {args.max_sessions} "
            f"sessions and {args.max_good} acknowledged ids",
            flush=True,
        )

        run = Run(args, smtp_port)
        died = threading.Event()
        stop_sampling = threading.Event()

        rss = []  # (seconds since the load began, VmRSS in kB)
        sample_started = time.monotonic()

        def sample():
            next_rss = 0.0
            while not stop_sampling.wait(0.5):
                if server.poll() is not None:
                    died.set()
                    return
                elapsed = time.monotonic() - sample_started
                if elapsed >= next_rss:
                    kb = proc_status(server.pid).get("VmRSS", "0 kB").split()[0]
                    rss.append((elapsed, int(kb)))
                    next_rss += args.rss_every

        # Watches for the server dying under load.
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        reported_at = {}  # id -> when its report was first seen
        stop_polling = threading.Event()

        def poll_reports():
            while not stop_polling.wait(1.0):
                with run.lock:
                    pending = set(run.acked) - set(reported_at)
                for id_ in sorted(pending):
                    try:
                        status, body = http_get(http_port, f"/api/tests/{id_}")
                    except OSError:
                        continue
                    if status == 200 and json.loads(body).get("status") != "pending":
                        with run.lock:
                            reported_at[id_] = time.monotonic()

        poller = threading.Thread(target=poll_reports, daemon=True)
        poller.start()
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            for future in [pool.submit(worker, run, i) for i in range(args.clients)]:
                future.result()
        load_seconds = time.monotonic() - started
        print(f"load done in {load_seconds:.1f} s ({run.sessions} sessions); waiting for reports", flush=True)

        # Every acknowledged id must get a report (the poller has been
        # collecting them since the first 250), and its stored message must
        # be what was sent.
        report_deadline = time.monotonic() + args.report_timeout
        while time.monotonic() < report_deadline and not died.is_set():
            with run.lock:
                pending = set(run.acked) - set(reported_at)
            if not pending:
                break
            time.sleep(0.5)
        stop_polling.set()
        poller.join()
        pending = set(run.acked) - set(reported_at)
        latencies = [reported_at[i] - run.acked_at[i] for i in reported_at]
        corrupt, unstored = [], []
        for id_, expected in run.acked.items():
            try:
                status, body = http_get(http_port, f"/tests/{id_}/message.eml")
            except OSError as err:
                unstored.append(f"{id_} ({err!r})")
                continue
            if status != 200:
                unstored.append(f"{id_} (HTTP {status})")
            elif body != expected:
                corrupt.append(id_)
        # Nothing refused or cut off may have been stored.
        phantom = []
        for id_ in sorted(run.not_stored - set(run.acked)):
            try:
                status, body = http_get(http_port, f"/api/tests/{id_}")
                reply = json.loads(body)
            except (OSError, ValueError):
                continue
            if reply.get("status") != "pending" or reply.get("message_received"):
                phantom.append(id_)
        stop_sampling.set()
        sampler.join()

        status = proc_status(server.pid)
        alive = server.poll() is None
        problems = still_answering(smtp_port, http_port) if alive else ["server process exited"]
        log.flush()
        server_log = open(log_path, "rb").read().decode(errors="replace")
        panics = [line for line in server_log.splitlines() if "panicked" in line]

        lost = sorted(pending) + unstored
        print()
        print("== mailscore abuse run ==")
        print(f"sessions: {run.sessions} in {load_seconds:.1f} s (slow clients finish after --seconds)")
        for name in KINDS:
            if run.kinds[name]:
                unexpected = run.unexpected_n[name]
                print(
                    f"  {name:<22} {run.kinds[name]:>5}"
                    + (f"   unexpected {unexpected}: {run.unexpected[name]}" if unexpected else "")
                )
        print(
            f"delivered (250): {run.delivered_messages} messages to {len(run.acked)} distinct ids, "
            f"of {run.delivery_attempts} delivery attempts"
        )
        refused_total = sum(run.delivery_refused.values())
        print(f"refused deliveries: {refused_total}")
        for line, n in run.delivery_refused.most_common():
            print(f"  {n:>5}  {line}")
        print("error replies to abuse, by reply:")
        by_reply = collections.Counter()
        kinds_of = collections.defaultdict(set)
        for (kind, line), n in run.kind_errors.items():
            if kind in GOOD_KINDS:
                continue
            by_reply[line] += n
            kinds_of[line].add(kind)
        for line, n in by_reply.most_common():
            print(f"  {n:>6}  {line}   [{', '.join(sorted(kinds_of[line]))}]")
        if run.client_errors:
            print("client-side errors (ours, not the server's):")
            for line, n in run.client_errors.most_common(8):
                print(f"  {n:>5}  {line}")
        if latencies:
            print(
                f"reports: {len(latencies)} / {len(run.acked)}, 250-to-report median "
                f"{statistics.median(latencies):.1f} s, max {max(latencies):.1f} s"
            )
            print_latency_windows(run, reported_at, started, load_seconds)
        print_rss(rss, args.warm_up)
        print(f"lost (250 but no report or no stored message): {len(lost)}" + (f" {lost[:10]}" if lost else ""))
        print(f"corrupt (stored message differs from what was sent): {len(corrupt)}" + (f" {corrupt[:10]}" if corrupt else ""))
        print(f"phantom (refused or cut off, yet stored): {len(phantom)}" + (f" {phantom[:10]}" if phantom else ""))
        print(
            f"server RSS: peak (VmHWM) {status.get('VmHWM', '?')}, current (VmRSS) {status.get('VmRSS', '?')}, "
            f"threads {status.get('Threads', '?')}"
        )
        print(f"server panics in its log: {len(panics)}" + (f" {panics[:3]}" if panics else ""))
        print("server still answering: " + ("yes (SMTP EHLO 250, HTTP POST /api/tests 201)" if not problems else f"NO: {problems}"))

        if lost:
            failures.append(f"{len(lost)} lost")
        if corrupt:
            failures.append(f"{len(corrupt)} corrupt")
        if phantom:
            failures.append(f"{len(phantom)} phantom")
        if panics:
            failures.append("server panicked")
        if problems:
            failures.append("server not answering")
        if died.is_set() or not alive:
            failures.append("server died")
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()
        if args.keep or failures:
            print(f"data dir and server log kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
