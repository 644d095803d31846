#!/usr/bin/env bash
# The CPU serve spends on one big message, end to end: SMTP receive, the
# durable store, analysis, the report saved. A 10 MB base64 attachment by
# default (the case rspamd takes 40 ms of CPU for, bench/rspamc.sh).
#
#   bench/big_message.sh            # 10 MB attachment, 5 rounds
#   MB=1 ROUNDS=3 STORE=sled bench/big_message.sh
#
# Starts dnsmasq authoritative for the sender's zones (every name
# NXDOMAIN with an SOA: real, cacheable negative answers) and
# target/release/mailscore (built if missing) on free loopback ports,
# sends each round's message
# with Python's smtplib, waits for its report, and prints serve's CPU time
# (user + system, from /proc) for it, then min/median/max.
#
# Needs: dnsmasq-base, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
MB=${MB:-10}
ROUNDS=${ROUNDS:-5}
[ -x target/release/mailscore ] || cargo build --release --locked --bin mailscore
work=$(mktemp -d)
pid=
dns_pid=
trap 'kill $pid $dns_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
smtp=$(free_port)
http=$(free_port)
dns=$(free_port)
dnsmasq --keep-in-foreground --port="$dns" --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --user=root --pid-file= \
    --local-ttl=3600 --auth-ttl=3600 --auth-server=ns.bench,127.0.0.1 \
    --auth-zone=example --auth-zone=org --auth-zone=net --auth-zone=com \
    --txt-record=example.org,"v=spf1 ip4:127.0.0.1 -all" &
dns_pid=$!
target/release/mailscore serve ${STORE:+--store "$STORE"} --data-dir "$work/data" --domain localhost \
    --smtp-listen "127.0.0.1:$smtp" --http-listen "127.0.0.1:$http" --dns "127.0.0.1:$dns" \
    --probe off --max-message-size $(((MB + 2) * 2 * 1024 * 1024)) 2>"$work/serve.log" &
pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$http") 2>/dev/null && break; sleep 0.1; done
python3 - "$smtp" "$http" "$pid" "$MB" "$ROUNDS" <<'PY'
import base64, json, os, smtplib, statistics, sys, time, urllib.request
smtp, http, pid, mb, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
hz = os.sysconf("SC_CLK_TCK")
def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / hz
body = base64.encodebytes(os.urandom(mb * 1024 * 1024)).replace(b"\n", b"\r\n")
def message(n):
    return (b"From: a@example.org\r\nTo: big%d@localhost\r\nSubject: big %d\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
            b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=data.bin\r\n\r\n" % (n, n)) + body + b"--b--\r\n"
costs, walls = [], []
for n in range(rounds + 1):
    raw = message(n)
    time.sleep(0.5)
    c0, t0 = cpu(), time.time()
    with smtplib.SMTP("127.0.0.1", int(smtp)) as s:
        s.sendmail("a@example.org", [f"big{n}@localhost"], raw)
    report = json.load(urllib.request.urlopen(f"http://127.0.0.1:{http}/api/tests/big{n}?wait=60", timeout=90))
    assert report.get("status") == "done", report.get("status")
    c1, t1 = cpu(), time.time()
    if n == 0:
        continue  # warm-up
    costs.append((c1 - c0) * 1000)
    walls.append((t1 - t0) * 1000)
    print(f"round {n}: {len(raw)} bytes, serve CPU {costs[-1]:.0f} ms, wall {walls[-1]:.0f} ms")
print(f"{mb} MB attachment ({len(raw)} bytes): serve CPU min {min(costs):.0f} / median {statistics.median(costs):.0f} / max {max(costs):.0f} ms; wall median {statistics.median(walls):.0f} ms")
PY
