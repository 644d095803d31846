#!/usr/bin/env bash
# Scale-out on one machine: two `mailscore serve` nodes sharing one Redis
# behind HAProxy, against one node on the same Redis (direct and behind
# HAProxy) and one node on the default embedded store (SQLite). Not a test:
# it prints figures for bench/README.md ("Scale-out").
#
#   bench/scaleout.sh                          # 3 rounds
#   ROUNDS=1 MESSAGES=1000 WRK_SECONDS=3 bench/scaleout.sh   # a quick look
#   REDIS_FSYNC=everysec bench/scaleout.sh     # Redis AOF fsync (always,
#                                              # everysec, no; off: no AOF)
#   EXTRA_FSYNC="" bench/scaleout.sh           # without the *-everysec rows
#   BALANCE=roundrobin bench/scaleout.sh       # HAProxy's SMTP balancing
#   OUT=/tmp/scaleout.tsv bench/scaleout.sh    # keep the raw rows
#   FSYNC_TRACE=1 bench/scaleout.sh            # then one more redis-1 and redis-2-lb
#                                              # ingest with Redis under strace: its
#                                              # fsyncs per message and their wall
#                                              # time (not in the figures: ptrace
#                                              # slows Redis)
#
# Starts, each on a free 127.0.0.1 port: dnsmasq with the sender's zone (as
# bench/ingest.sh), redis-server (AOF on, `appendfsync always` by default:
# a 250 then survives a Redis crash, as SQLite's synchronous=FULL commit
# does, so the stores are compared at the same durability), three serve
# nodes with ingest.sh's flags (`--probe off` by default, like the "How
# cost grows" figures) — "sqlite" on its own data dir, "a" and "b" on
# `--store redis://…` — smtp-sink, and one HAProxy in TCP mode. HAProxy
# connects to the nodes from 127.0.0.2 and opens each SMTP connection
# with a PROXY v2 header; the nodes trust it from 127.0.0.2 only
# (`--proxy-trusted`), so they see smtp-source's address (SPF passes as it
# does direct) and smtp-source can still reach node a directly from
# 127.0.0.1. HTTP goes through HAProxy as plain TCP (no header; nothing
# read there depends on the client's address).
#
# Each round measures, in an order that shifts by one each round:
#
#   sink         smtp-sink direct (the yardstick, as in ingest.sh)
#   sink-lb      smtp-sink behind HAProxy (no PROXY header: it speaks none)
#   sqlite-1     node "sqlite" direct
#   redis-1      node a direct
#   redis-1-lb   node a behind HAProxy
#   redis-2-lb   nodes a and b behind HAProxy (SMTP: $BALANCE; HTTP: roundrobin)
#   redis-1-everysec, redis-1-lb-everysec, redis-2-lb-everysec
#                the same with Redis switched to `appendfsync everysec`
#                (each Redis ingest sets its appendfsync with CONFIG SET):
#                what waiting for the fsync costs
#
# an ingest of $MESSAGES messages of 2 KB from $SESSIONS smtp-source
# sessions (one message per connection, each to its own test id), timed to
# the last 250 and to the last report (every node's analysis backlog
# empty); then checks that every message accepted (the nodes' received
# counters) has a finished report, reading all of them through the API;
# then, for sqlite-1, redis-1, redis-1-lb and redis-2-lb, wrk on the JSON
# and the HTML report of random ids of this round (as bench/lookup.sh:
# 2 threads, 20 connections). Beside each figure: where the CPU went, from
# /proc as pidstat reads it (each process's utime + stime, the load
# generator's from `time`), in CPU ms per message or request, and the share
# of the machine's busy time (/proc/stat) that was not ours: "others", the
# other users of a shared machine. Redis's commands per message (those its
# Lua scripts run included) and its slowest events (LATENCY LATEST, 1 ms
# or more) are printed too.
#
# Needs: postfix (smtp-source, smtp-sink), dnsmasq-base, wrk, haproxy,
# redis-server (redis-cli), python3, curl; strace for FSYNC_TRACE.
# Debian: apt-get install -y postfix dnsmasq-base wrk haproxy redis-server strace
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MESSAGES=${MESSAGES:-3000}
SESSIONS=${SESSIONS:-20}
ROUNDS=${ROUNDS:-3}
WRK_SECONDS=${WRK_SECONDS:-10}
REDIS_FSYNC=${REDIS_FSYNC:-always}
EXTRA_FSYNC=${EXTRA_FSYNC-everysec}
BALANCE=${BALANCE:-leastconn}
bin=${CARGO_TARGET_DIR:-target}/release/mailscore
for tool in smtp-source smtp-sink dnsmasq wrk haproxy redis-server redis-cli python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (see the header of $0)" >&2; exit 2; }
done
[ -x "$bin" ] || cargo build --release --locked --bin mailscore

# On the disk, not tmpfs: SQLite's and Redis's fsyncs are part of the cost.
work=$(mktemp -d "${TMPDIR:-/var/tmp}/mailscore-scaleout.XXXXXX")
out=${OUT:-$work/results.tsv}
: >"$out"
pids=()
cleanup() {
    local status=$?
    if [ "$status" != 0 ]; then
        for log in "$work"/*.log; do echo "== $log" >&2; tail -5 "$log" >&2; done
    fi
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v name="$2" '$1 == name {print $2}'; }

dns_port=$(free_port)
bench_dns "$dns_port"
pids+=($!)

redis_port=$(free_port)
mkdir -p "$work/redis"
if [ "$REDIS_FSYNC" = off ]; then
    persistence=(--appendonly no)
else
    persistence=(--appendonly yes --appendfsync "$REDIS_FSYNC")
fi
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --save "" \
    "${persistence[@]}" --maxmemory-policy noeviction --latency-monitor-threshold 1 \
    --logfile "$work/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
wait_port "$redis_port"

declare -A smtp http pid
start_node() {
    local name=$1
    shift
    smtp[$name]=$(free_port)
    http[$name]=$(free_port)
    "$bin" serve --probe "${PROBE:-off}" --dnssec-validation off "$@" \
        --data-dir "$work/$name" --domain localhost \
        --smtp-listen "127.0.0.1:${smtp[$name]}" --http-listen "127.0.0.1:${http[$name]}" \
        --dns "127.0.0.1:$dns_port" --dns-timeout 2 \
        --max-connections-per-ip 1000 --messages-per-ip-per-minute 100000000 \
        --max-analysis-backlog 1000000 >"$work/$name.log" 2>&1 &
    pid[$name]=$!
    pids+=("$!")
}
start_node sqlite
start_node a --store "redis://127.0.0.1:$redis_port/0" --proxy-trusted 127.0.0.2
start_node b --store "redis://127.0.0.1:$redis_port/0" --proxy-trusted 127.0.0.2
sink_port=$(free_port)
smtp-sink -u nobody "127.0.0.1:$sink_port" 1024 &
pid[sink]=$!
pids+=("$!")

declare -A lb
for name in smtp-1 smtp-2 http-1 http-2 sink; do lb[$name]=$(free_port); done
cat >"$work/haproxy.cfg" <<EOF
global
    # Each connection takes two descriptors; the open-files limit here is 20,000.
    maxconn 4000
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    # The nodes trust PROXY headers from 127.0.0.2 only: direct clients
    # (127.0.0.1) need none.
    source 127.0.0.2
frontend smtp-1
    bind 127.0.0.1:${lb[smtp-1]}
    default_backend smtp-1
backend smtp-1
    server a 127.0.0.1:${smtp[a]} send-proxy-v2
frontend smtp-2
    bind 127.0.0.1:${lb[smtp-2]}
    default_backend smtp-2
backend smtp-2
    balance $BALANCE
    server a 127.0.0.1:${smtp[a]} send-proxy-v2
    server b 127.0.0.1:${smtp[b]} send-proxy-v2
frontend http-1
    bind 127.0.0.1:${lb[http-1]}
    default_backend http-1
backend http-1
    server a 127.0.0.1:${http[a]}
frontend http-2
    bind 127.0.0.1:${lb[http-2]}
    default_backend http-2
backend http-2
    balance roundrobin
    server a 127.0.0.1:${http[a]}
    server b 127.0.0.1:${http[b]}
frontend sink
    bind 127.0.0.1:${lb[sink]}
    default_backend sink
backend sink
    server sink 127.0.0.1:$sink_port
EOF
haproxy -db -f "$work/haproxy.cfg" 2>"$work/haproxy.log" &
pid[haproxy]=$!
pids+=("$!")
pid[redis]=$redis_pid

for name in sqlite a b; do wait_port "${smtp[$name]}"; wait_port "${http[$name]}"; done
for name in "${!lb[@]}"; do wait_port "${lb[$name]}"; done
wait_port "$sink_port"

# Per configuration: SMTP port, HTTP port (reads), the nodes behind it.
declare -A cfg_smtp=(
    [sink]=$sink_port [sink-lb]=${lb[sink]} [sqlite-1]=${smtp[sqlite]}
    [redis-1]=${smtp[a]} [redis-1-lb]=${lb[smtp-1]} [redis-2-lb]=${lb[smtp-2]})
declare -A cfg_http=(
    [sqlite-1]=${http[sqlite]} [redis-1]=${http[a]} [redis-1-lb]=${lb[http-1]}
    [redis-2-lb]=${lb[http-2]})
declare -A cfg_nodes=(
    [sink]="" [sink-lb]="" [sqlite-1]="sqlite" [redis-1]="a" [redis-1-lb]="a"
    [redis-2-lb]="a b")
ingest_cfgs=(sink sink-lb sqlite-1 redis-1 redis-1-lb redis-2-lb)
# The same nodes and Redis with another appendfsync, switched with CONFIG
# SET before each ingest: what the fsync before each answer costs.
for fsync in $EXTRA_FSYNC; do
    for cfg in redis-1 redis-1-lb redis-2-lb; do
        ingest_cfgs+=("$cfg-$fsync")
        cfg_smtp[$cfg-$fsync]=${cfg_smtp[$cfg]}
        cfg_http[$cfg-$fsync]=${cfg_http[$cfg]}
        cfg_nodes[$cfg-$fsync]=${cfg_nodes[$cfg]}
    done
done
lookup_cfgs=(sqlite-1 redis-1 redis-1-lb redis-2-lb)
procs=(sqlite a b redis haproxy sink)

# The time, then CPU ticks so far: the machine's busy time, each process's.
cpu_snapshot() {
    local line
    line="$EPOCHREALTIME $(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat)"
    for p in "${procs[@]}"; do line+=" $(awk '{print $14 + $15}' "/proc/${pid[$p]}/stat")"; done
    echo "$line"
}
# Where the CPU went between two snapshots, given the load generator's
# CPU seconds and how many messages or requests: a line to read, then a
# tab-separated one: CPU ms per unit of serve (all nodes), Redis, HAProxy
# and the load generator, then % of the machine that others used, idle.
cpu_split() {
    python3 - "$1" "$2" "$3" "$4" "$(getconf CLK_TCK)" "$(nproc)" "${procs[*]}" <<'EOF'
import sys
before, after = [list(map(float, a.split())) for a in sys.argv[1:3]]
loadgen, units, hz, cores = map(float, sys.argv[3:7])
names = sys.argv[7].split()
wall = after[0] - before[0]
d = [(y - x) / hz for x, y in zip(before[1:], after[1:])]
used = dict(zip(names, d[1:]))
used["loadgen"] = loadgen
pct = lambda s: 100 * s / (wall * cores)
ms = lambda s: 1000 * s / units
ours = sum(used.values())
others, idle = pct(max(d[0] - ours, 0)), pct(max(wall * cores - d[0], 0))
parts = [f"{n} {ms(s):.3f}" for n, s in used.items() if pct(s) >= 0.5]
print(f"CPU ms per unit: {', '.join(parts)}; of the {cores:.0f} cores: ours {pct(ours):.0f} %, "
      f"others {others:.0f} %, idle {idle:.0f} %")
serve = sum(used[n] for n in ("sqlite", "a", "b"))
print("\t".join(f"{ms(s):.3f}" for s in (serve, used["redis"], used["haproxy"], loadgen))
      + f"\t{others:.0f}\t{idle:.0f}")
EOF
}

# How many of ids <1..n><tag> (smtp-source -N counts from 1) have a finished report, read through the
# API on one keep-alive connection; pending ones are read again for up to
# 30 s.
reports_done() {
    python3 - "$1" "$2" "$3" <<'EOF'
import http.client, json, sys, time
port, tag, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
pending, deadline = list(range(1, n + 1)), time.time() + 30
while pending and time.time() < deadline:
    left = []
    for i in pending:
        conn.request("GET", f"/api/tests/{i}{tag}")
        r = conn.getresponse()
        body = r.read()
        if r.status != 200 or json.loads(body).get("status") != "done":
            left.append(i)
    if left:
        time.sleep(0.5)
    pending = left
print(n - len(pending))
EOF
}

# Commands Redis has run, but INFO (each /metrics asks it the store's size).
redis_commands() {
    redis-cli -p "$redis_port" info commandstats |
        awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" {n += $3} END {print n + 0}'
}

ingest() {
    local round=$1 cfg=$2 tag="r$1-$2" nodes node t0 t1 t2 c0 c1
    nodes=${cfg_nodes[$cfg]}
    local -A received0
    for node in $nodes; do received0[$node]=$(metric "${http[$node]}" mailscore_messages_received_total); done
    local commands0=0
    if [[ $cfg == redis-* ]]; then
        local fsync=$REDIS_FSYNC
        for extra in $EXTRA_FSYNC; do [[ $cfg == *-"$extra" ]] && fsync=$extra; done
        redis-cli -p "$redis_port" config set appendfsync "$fsync" >/dev/null
        redis-cli -p "$redis_port" latency reset >/dev/null
        commands0=$(redis_commands)
    fi
    c0=$(cpu_snapshot)
    t0=$(now)
    local TIMEFORMAT="%3U %3S" loadgen
    { time smtp-source -s "$SESSIONS" -m "$MESSAGES" -l 2048 -N -f sender@x.example \
        -t "$tag@localhost" "127.0.0.1:${cfg_smtp[$cfg]}"; } 2>"$work/source.time"
    t1=$(now)
    loadgen=$(tail -1 "$work/source.time" | awk '{print $1 + $2}')
    # The last report is written when no node has an analysis unfinished.
    for node in $nodes; do
        for _ in $(seq 6000); do
            [ "$(metric "${http[$node]}" mailscore_analysis_unfinished)" = 0 ] && break
            sleep 0.02
        done
    done
    t2=$(now)
    c1=$(cpu_snapshot)
    local rate e2e split
    rate=$(python3 -c "print(f'{$MESSAGES / ($t1 - $t0):.0f}')")
    e2e=$(python3 -c "print(f'{$MESSAGES / ($t2 - $t0):.0f}')")
    split=$(cpu_split "$c0" "$c1" "$loadgen" "$MESSAGES")
    local line="round $round $cfg: $rate msg/s to the last 250"
    if [ -n "$nodes" ]; then
        local accepted=0 done spread="" n
        for node in $nodes; do
            n=$(($(metric "${http[$node]}" mailscore_messages_received_total) - ${received0[$node]}))
            accepted=$((accepted + n))
            spread+=" $node $n"
        done
        done=$(reports_done "${cfg_http[$cfg]}" "$tag" "$MESSAGES")
        line+=", $e2e msg/s to the last report; accepted $accepted (${spread# }), reports done $done"
        if [[ $cfg == redis-* ]]; then
            line+=" ($(redis-cli -p "$redis_port" --scan --pattern "mailscore:{*$tag}:report" | wc -l) report keys in Redis)"
            line+=$'\n'"    Redis: $(python3 -c "print(f'{($(redis_commands) - $commands0) / $MESSAGES:.1f}')") commands per message; "
            # LATENCY LATEST: event, time, latest ms, max ms; events of 1 ms or more.
            line+="slowest events (ms): $(redis-cli -p "$redis_port" latency latest |
                awk 'NR % 4 == 1 {e = $1} NR % 4 == 0 {printf "%s%s %s", sep, e, $1; sep = ", "}')"
        fi
        if [ "$accepted" != "$MESSAGES" ] || [ "$done" != "$MESSAGES" ]; then
            echo "$line" >&2
            echo "lost mail: $MESSAGES sent, $accepted accepted, $done reports" >&2
            exit 1
        fi
    else
        e2e=$rate
    fi
    echo "$line"
    echo "    ${split%%$'\n'*}" | sed 's/per unit/per message, to the last report/'
    [ "$round" = trace ] ||
        printf 'ingest\t%s\t%s\t%s\t%s\t%s\n' "$round" "$cfg" "$rate" "$e2e" "${split##*$'\n'}" >>"$out"
}

wrk_random_script "$work/random.lua"

lookup() {
    local round=$1 cfg=$2 kind=$3 tag path c0 c1 t0 t1 result
    # The redis configurations read the same ids (this round's redis-2-lb
    # messages), the embedded store its own.
    if [ "$cfg" = sqlite-1 ]; then tag="r$round-sqlite-1"; else tag="r$round-redis-2-lb"; fi
    if [ "$kind" = json ]; then path="/api/tests/%d$tag"; else path="/tests/%d$tag"; fi
    c0=$(cpu_snapshot)
    t0=$(now)
    local TIMEFORMAT="%3U %3S"
    { time COUNT=$MESSAGES PATH_FORMAT=$path wrk -t2 -c20 -d"${WRK_SECONDS}s" --latency \
        -s "$work/random.lua" "http://127.0.0.1:${cfg_http[$cfg]}" >"$work/wrk.out"; } 2>"$work/wrk.time"
    t1=$(now)
    c1=$(cpu_snapshot)
    result=$(python3 - "$work/wrk.out" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
p99 = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
print(f"{rps:.0f}\t{p99:.2f}\t{bad.group(1) if bad else 0}\t{errors.group(1) if errors else 'none'}")
EOF
    )
    IFS=$'\t' read -r rps p99 bad errors <<<"$result"
    local requests split
    requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
    split=$(cpu_split "$c0" "$c1" "$(tail -1 "$work/wrk.time" | awk '{print $1 + $2}')" "$requests")
    echo "round $round $cfg $kind: $rps req/s, p99 $p99 ms (non-2xx $bad, socket errors $errors)"
    echo "    ${split%%$'\n'*}" | sed 's/per unit/per request/'
    [ "$bad" = 0 ] || { echo "wrk got non-2xx answers" >&2; exit 1; }
    printf 'lookup\t%s\t%s-%s\t%s\t%s\t%s\n' "$round" "$cfg" "$kind" "$rps" "$p99" "${split##*$'\n'}" >>"$out"
}

echo "mailscore $("$bin" --version 2>/dev/null || true) on $(nproc) cores; $(haproxy -v | head -1 | cut -d' ' -f1-3); $(redis-server --version | cut -d' ' -f1-3), appendfsync $REDIS_FSYNC"
echo "$MESSAGES messages of 2 KB from $SESSIONS smtp-source sessions per ingest; SMTP balance $BALANCE; wrk -t2 -c20 -d${WRK_SECONDS}s"
# Warm-up: each node's first messages (TLS pair, store, DNS cache); the
# ones through HAProxy reach both a and b.
for port in "${smtp[sqlite]}" "${lb[smtp-2]}"; do
    smtp-source -m 20 -s 2 -N -f sender@x.example -t warm@localhost "127.0.0.1:$port"
done

for round in $(seq "$ROUNDS"); do
    shift_by=$(((round - 1) % ${#ingest_cfgs[@]}))
    for cfg in "${ingest_cfgs[@]:shift_by}" "${ingest_cfgs[@]:0:shift_by}"; do ingest "$round" "$cfg"; done
    shift_by=$(((round - 1) % ${#lookup_cfgs[@]}))
    for cfg in "${lookup_cfgs[@]:shift_by}" "${lookup_cfgs[@]:0:shift_by}"; do
        for kind in json html; do lookup "$round" "$cfg" "$kind"; done
    done
done

if [ -n "${FSYNC_TRACE:-}" ]; then
    command -v strace >/dev/null || { echo "missing: strace" >&2; exit 2; }
    for cfg in redis-1 redis-2-lb; do
        # -w: the time a call took (wall clock), not the CPU it used.
        strace -c -w -f -e trace=fsync,fdatasync -o "$work/strace.txt" -p "$redis_pid" 2>/dev/null &
        strace_pid=$!
        sleep 1
        ingest trace "$cfg" >/dev/null
        kill -INT "$strace_pid"
        wait "$strace_pid" 2>/dev/null || true
        echo "Redis under strace, $MESSAGES messages to $cfg (appendfsync $REDIS_FSYNC):"
        awk -v n="$MESSAGES" '$NF ~ /^f(data)?sync$/ {printf "    %s: %d calls (%.2f per message), %.2f ms each on average, %.1f s in all\n", $NF, $4, $4 / n, $3 / 1000, $2}' "$work/strace.txt"
    done
fi

# Node b is reached through HAProxy only: its log shows whom it took the
# mail from.
echo "node b's accepted transactions: $(grep -c 'client_ip=127.0.0.1 proxy=127.0.0.2' "$work/b.log" || true) from client 127.0.0.1 via proxy 127.0.0.2, $(grep -c 'client_ip=127.0.0.2' "$work/b.log" || true) from 127.0.0.2 itself"

echo
echo "== min / median / max of $ROUNDS rounds"
python3 - "$out" "${ingest_cfgs[*]}" "${lookup_cfgs[*]}" <<'EOF'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
def mmm(values, fmt="{:,.0f}"):
    values = sorted(values)
    return " / ".join(fmt.format(v) for v in (values[0], statistics.median(values), values[-1]))
sink = {r[1]: float(r[3]) for r in rows if r[0] == "ingest" and r[2] == "sink"}
print("ingest | msg/s to the last 250 | to the last report | % of smtp-sink (same round) | "
      "CPU ms/msg serve | Redis | HAProxy | smtp-source | others % of machine")
for cfg in sys.argv[2].split():
    rs = [r for r in rows if r[0] == "ingest" and r[2] == cfg]
    col = lambda i: [float(r[i]) for r in rs]
    print(f"{cfg} | {mmm(col(3))} | {mmm(col(4))} | "
          f"{mmm([float(r[3]) / sink[r[1]] * 100 for r in rs])} | "
          + " | ".join(mmm(col(i), "{:.3f}") for i in (5, 6, 7, 8)) + f" | {mmm(col(9))}")
print("lookup | req/s | p99 ms | CPU ms/req serve | Redis | HAProxy | wrk | others % of machine")
for cfg in sys.argv[3].split():
    for kind in ("json", "html"):
        rs = [r for r in rows if r[0] == "lookup" and r[2] == f"{cfg}-{kind}"]
        col = lambda i: [float(r[i]) for r in rs]
        print(f"{cfg} {kind} | {mmm(col(3))} | {mmm(col(4), '{:.1f}')} | "
              + " | ".join(mmm(col(i), "{:.3f}") for i in (5, 6, 7, 8)) + f" | {mmm(col(9))}")
EOF
for name in sqlite a b; do
    if grep -qi panick "$work/$name.log"; then
        echo "node $name panicked:" >&2
        grep -i -m5 panick "$work/$name.log" >&2
        exit 1
    fi
done
