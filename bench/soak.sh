#!/usr/bin/env bash
# Soak: mailscore under a steady mix of good, bad and hostile SMTP sessions
# for a long time (default 30 minutes), with real DNS answers, RSS sampled
# every 10 s. Not a test: it prints figures for an issue note.
#
#   bench/soak.sh                      # 30 min at 8 sessions/s
#   SECONDS_LOAD=300 RATE=20 bench/soak.sh
#   SERVE_ARGS="--store-cache-mb 8" bench/soak.sh   # more flags for serve
#
# Starts dnsmasq on a free 127.0.0.1 port serving example.com (the load's
# sender: SPF, DMARC, MX, A; other names NXDOMAIN with an SOA, so DNSBL
# and posture lookups get real negative answers), then bench/abuse.py
# drives target/release/mailscore (built if missing) with its session mix
# (about half of them good deliveries from 127.0.0.1-8, the rest noise,
# floods, cut-off and oversize messages, idle and trickling clients,
# stalled TLS, relay attempts) at RATE sessions a second. It prints what
# abuse.py prints: lost / corrupt / phantom messages (each must be 0), the
# 250-to-report p50/p99 per 5-minute window, and RSS after the warm-up:
# first and last sample, drift and spread in %.
#
# Needs: dnsmasq-base, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_LOAD=${SECONDS_LOAD:-1800}
RATE=${RATE:-8}
command -v dnsmasq >/dev/null || { echo "missing: dnsmasq (apt-get install dnsmasq-base)" >&2; exit 2; }
[ -x target/release/mailscore ] || cargo build --release --locked --bin mailscore

dns_port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dnsmasq --keep-in-foreground --port="$dns_port" --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --user=root --pid-file= \
    --local-ttl=3600 --auth-ttl=3600 --auth-server=ns.bench,127.0.0.1 \
    --auth-zone=example --auth-zone=com --auth-zone=org --auth-zone=net \
    --txt-record=example.com,"v=spf1 ip4:127.0.0.0/24 -all" \
    --txt-record=_dmarc.example.com,"v=DMARC1; p=none" \
    --mx-host=example.com,mail.example.com,10 \
    --host-record=mail.example.com,127.0.0.1 &
dns_pid=$!
trap 'kill $dns_pid 2>/dev/null || true' EXIT

python3 bench/abuse.py --seconds "$SECONDS_LOAD" --rate "$RATE" --clients 12 \
    --max-sessions 100000000 --max-good 100000000 --report-timeout 300 \
    --dns "127.0.0.1:$dns_port" --rss-every 10 --warm-up 120 \
    $(for arg in ${SERVE_ARGS:-}; do printf -- '--serve-arg=%s ' "$arg"; done)
