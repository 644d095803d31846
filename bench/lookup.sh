#!/usr/bin/env bash
# Report lookup as the store grows: wrk reads random reports (JSON, then the
# HTML page) out of 1,000 stored tests, then again once 100,000 are stored.
# Not a test: it prints figures for an issue note.
#
#   bench/lookup.sh                  # 1,000 then 100,000
#   COUNTS="1000 10000" bench/lookup.sh
#
# Starts dnsmasq on a free 127.0.0.1 port (the sender's SPF and DMARC) and
# target/release/mailscore (built if missing), fills it with smtp-source
# (2 KB messages, each to its own address: `<n>lookup@localhost`), waits
# until the last report is written, and runs wrk for 10 s per read with
# 20 connections, each request a random one of the stored ids.
#
# Needs: postfix (smtp-source), dnsmasq-base, wrk, python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

COUNTS=${COUNTS:-"1000 100000"}
for tool in smtp-source dnsmasq wrk python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
[ -x target/release/mailscore ] || cargo build --release --locked --bin mailscore

work=$(mktemp -d "${TMPDIR:-/var/tmp}/mailscore-lookup.XXXXXX")
dns_port=$(free_port)
smtp_port=$(free_port)
http_port=$(free_port)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

dnsmasq --keep-in-foreground --port="$dns_port" --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --user=root --pid-file= \
    --local-ttl=3600 --auth-ttl=3600 --auth-server=ns.bench,127.0.0.1 \
    --auth-zone=example \
    --txt-record=x.example,"v=spf1 ip4:127.0.0.1 -all" \
    --txt-record=_dmarc.x.example,"v=DMARC1; p=reject" &
pids+=($!)
target/release/mailscore serve --probe off --dnssec-validation off \
    --data-dir "$work/data" --domain localhost \
    --smtp-listen "127.0.0.1:$smtp_port" --http-listen "127.0.0.1:$http_port" \
    --dns "127.0.0.1:$dns_port" --dns-timeout 2 \
    --max-connections-per-ip 1000 --messages-per-ip-per-minute 100000000 \
    --max-analysis-backlog 1000000 >"$work/serve.log" 2>&1 &
mailscore_pid=$!
pids+=("$mailscore_pid")
http="http://127.0.0.1:$http_port"
for _ in $(seq 100); do curl -fs "$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

wrk_random_script "$work/random.lua"

stored=0
for count in $COUNTS; do
    # smtp-source -N numbers from 0 in each run: a suffix per run keeps
    # every id new; the reads pick among this run's ids.
    added=$((count - stored))
    smtp-source -s 20 -m "$added" -l 2048 -N -f sender@x.example \
        -t "lookup$count@localhost" "127.0.0.1:$smtp_port"
    until curl -fs "$http/api/tests/$((added - 1))lookup$count" | grep -q '"status":"done"'; do sleep 0.2; done
    stored=$count
    for read in "JSON /api/tests/%dlookup$count" "HTML /tests/%dlookup$count"; do
        set -- $read
        echo "== $count stored tests, $1 report, random ids"
        COUNT=$added PATH_FORMAT=$2 wrk -t2 -c20 -d10s --latency -s "$work/random.lua" "$http" |
            grep -E 'Requests/sec|^ +(50|99)%|Non-2xx'
    done
    echo "   mailscore RSS $(awk '/VmRSS/ {print $2}' "/proc/$mailscore_pid/status") kB, data dir $(du -sm "$work/data" | cut -f1) MB"
done
