#!/usr/bin/env bash
# How fast `mailscore survey` reads an archive, and in how much memory.
#
#   bench/survey.sh                    # 10,000 messages from 200 senders
#   MESSAGES=2000 SENDERS=50 bench/survey.sh
#
# Writes an mbox of MESSAGES unsigned 2 KB messages from SENDERS domains
# (s000.go.jp …; SPF for all, DMARC for every third, each received by
# mx.bench.test from 192.0.2.25 over ESMTPS), serves the domains with
# dnsmasq on a free 127.0.0.1 port (negative answers with an SOA, so the
# resolver caches them as from real servers), and runs
# target/release/mailscore survey (built if missing) under /usr/bin/time:
# prints messages/s, the elapsed and CPU time (user+sys over elapsed:
# both cores used is ~2.0) and the peak RSS.
#
# Needs: dnsmasq (dnsmasq-base), python3, /usr/bin/time (time).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MESSAGES=${MESSAGES:-10000}
SENDERS=${SENDERS:-200}
for tool in dnsmasq python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
[ -x target/release/mailscore ] || cargo build --release --locked
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT


records=()
for ((i = 0; i < SENDERS; i++)); do
    d=$(printf 's%03d.go.jp' "$i")
    records+=(--txt-record="$d,v=spf1 ip4:192.0.2.25 -all")
    if ((i % 3 == 0)); then
        records+=(--txt-record="_dmarc.$d,v=DMARC1; p=none; rua=mailto:d@$d")
    fi
done
dns_port=$(free_port)
dnsmasq --keep-in-foreground --port="$dns_port" --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --user=root --pid-file= \
    --local-ttl=3600 --auth-ttl=3600 --auth-server=ns.bench,127.0.0.1 \
    --auth-zone=jp --auth-zone=arpa --auth-zone=org --auth-zone=net --auth-zone=com \
    "${records[@]}" &
pids+=($!)
sleep 0.5

python3 - "$work/archive.mbox" "$MESSAGES" "$SENDERS" <<'EOF'
import sys
path, messages, senders = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
filler = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 2 + "\r\n") * 14
with open(path, "w", newline="") as out:
    for n in range(messages):
        d = f"s{n % senders:03d}.go.jp"
        out.write(f"From news@{d} Tue Nov 25 10:00:00 2025\n")
        out.write(
            f"Return-Path: <news@{d}>\r\n"
            f"Received: from mail.{d} (mail.{d} [192.0.2.25]) by mx.bench.test with ESMTPS id {n}; "
            "Tue, 25 Nov 2025 10:00:00 +0000\r\n"
            f"From: News <news@{d}>\r\nTo: reader@bench.test\r\nSubject: Issue {n}\r\n"
            f"Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{n}@{d}>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{filler}\r\n\n"
        )
EOF
echo "archive: $MESSAGES messages from $SENDERS senders, $(du -h "$work/archive.mbox" | cut -f1)"

/usr/bin/time -f '%e %U %S %M' -o "$work/time" \
    target/release/mailscore survey "$work/archive.mbox" --received-by mx.bench.test \
    --dns "127.0.0.1:$dns_port" --probe off --dnssec-validation off --out "$work/survey.json" \
    2> "$work/stderr" || { cat "$work/stderr" >&2; exit 1; }
read -r elapsed user sys rss_kb < "$work/time"
python3 - "$work/survey.json" "$MESSAGES" "$elapsed" "$user" "$sys" "$rss_kb" <<'EOF'
import json, sys
tables = json.load(open(sys.argv[1]))
messages, elapsed, user, sys_s, rss = int(sys.argv[2]), *map(float, sys.argv[3:7])
assert tables["messages"] == messages, tables["messages"]
print(f"senders {tables['senders']}, messages {tables['messages']}, skipped {tables['skipped']}")
print(f"{messages / elapsed:.0f} messages/s ({elapsed:.2f} s elapsed, CPU {user + sys_s:.2f} s = {(user + sys_s) / elapsed:.2f} cores)")
print(f"peak RSS {rss / 1024:.1f} MB")
EOF
