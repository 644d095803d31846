#!/usr/bin/env bash
# Ingest speed of mailscore beside Postfix's smtp-sink, on loopback, in one run.
#
#   bench/ingest.sh                 # 10,000 messages at 1, 20 and 100 sessions
#   MESSAGES=2000 SESSIONS="20" ROUNDS=1 bench/ingest.sh
#   MX_PROBE=postfix bench/ingest.sh  # the sender's MX is a real Postfix on
#                                   # loopback (relay closed, STARTTLS), and
#                                   # mailscore probes it (--probe-allow-private);
#                                   # without it the MX is 127.0.0.1:25, which
#                                   # the probe refuses at once (not public)
#   PROBE=off bench/ingest.sh       # --probe off
#   PEER_POSTFIX=1 bench/ingest.sh  # also, each round, the same load into a
#                                   # private Postfix (its smtpd on loopback,
#                                   # its own config and queue; it relays the
#                                   # bench recipients to discard), and
#                                   # mailscore ÷ Postfix; PEER_POSTFIX=both
#                                   # adds a second one with in_flow_delay = 0
#   STORE=sled bench/ingest.sh      # --store sled (default: sqlite)
#   TMPDIR=$(bench/fast_disk.sh up) bench/ingest.sh  # everything on a disk
#                                   # whose flush is cheap (its header says how)
#   SOAK=600 bench/ingest.sh        # also: RSS every 30 s over 10 minutes of load
#                                   # (SOAK_SESSIONS=5 sessions by default), all
#                                   # to one test id, so the store stays one
#                                   # test and any growth is the process's own;
#                                   # SOAK_IDS=many gives each message its own
#                                   # id (the store, and sled's index, grow)
#
# Starts, each on a free 127.0.0.1 port: dnsmasq serving the sender's zone
# (x.example: SPF, DMARC, MX, A; every other name NXDOMAIN with an SOA, so
# DNSBL and posture lookups get real, cacheable negative answers), target/release/mailscore with
# full analysis (built if missing), and smtp-sink (stores and checks
# nothing: the yardstick). Postfix's smtp-source then drives both with the
# same load. Prints, per session count and round, messages/s for both and
# the ratio, then the median ratio;
# mailscore's analysis backlog drain time, and how many analyses left the
# background thread for normal priority; end of DATA → 250 and → report
# available (p50/p99, bench/probe.py, alone and beside a 20-session load);
# wrk requests/s on the JSON and the HTML report; peak RSS.
#
# The analysis backlog limit is lifted (BACKLOG=N to set it): smtp-source
# gives up at the first 451, and this measures ingest, not backpressure.
#
# Needs: postfix (smtp-source, smtp-sink), dnsmasq-base, wrk, python3.
# Debian: echo "postfix postfix/main_mailer_type select No configuration" |
#   debconf-set-selections; apt-get install -y postfix dnsmasq-base wrk
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MESSAGES=${MESSAGES:-10000}
SESSIONS=${SESSIONS:-"1 20 100"}
SOAK=${SOAK:-0}
# Each session count runs this many times, smtp-sink then mailscore in turn,
# and the median ratio is printed: on a shared VM the rate of either moves
# by ±10 % within a minute, and one round says little.
ROUNDS=${ROUNDS:-3}
for tool in smtp-source smtp-sink dnsmasq wrk python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (see the header of $0)" >&2; exit 2; }
done
[ -x target/release/mailscore ] || cargo build --release --locked --bin mailscore

work=$(mktemp -d)
pids=()
postfix_dirs=()
cleanup() {
    for dir in "${postfix_dirs[@]}"; do stop_postfix "$dir"; done
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# A private Postfix instance in DIR, its smtpd on 127.0.0.1:PORT: its own
# config, queue, data dir and log, so it touches nothing of the system's
# Postfix; master.cf is the package's own, with the chroot off (the chroot
# would be this queue dir, without the etc/ files the daemons read). Further
# arguments are main.cf settings.
start_postfix() {
    local dir=$1 port=$2
    shift 2
    # Its daemons run as postfix: the work dir (mktemp, 0700) must let them in.
    chmod 755 "$work"
    mkdir -p "$dir/conf" "$dir/queue" "$dir/data"
    chown postfix "$dir/data"
    awk -v port="$port" '
        $1 == "smtp" && $2 == "inet" { print "127.0.0.1:" port " inet n - n - - smtpd"; next }
        !/^#/ && NF >= 5 && $5 == "y" { $5 = "n" }
        { print }' /etc/postfix/master.cf.proto >"$dir/conf/master.cf"
    : >"$dir/conf/main.cf"
    postconf -c "$dir/conf" -e "queue_directory = $dir/queue" "data_directory = $dir/data" \
        "maillog_file = $dir/maillog" "maillog_file_prefixes = /tmp, /var" \
        "compatibility_level = 3.6" "inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" "$@"
    postfix -c "$dir/conf" start
    postfix_dirs+=("$dir")
    wait_port "$port"
}
# postfix stop only signals master: wait for it, so that the work dir is not
# removed under daemons still writing to it.
stop_postfix() {
    local pid
    read -r pid <"$1/queue/pid/master.pid" 2>/dev/null || return 0
    postfix -c "$1/conf" stop 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
}
rate() { python3 -c "print(f'{$1 / ($3 - $2):.0f}')"; }
rss_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
# Analyses run at normal priority so far: the background thread had no
# slot for them within 10 ms (src/background.rs).
promoted() { curl -s "$http/metrics" | awk '/^mailscore_analysis_promoted_total / {print $2}'; }
# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
cpu_ms_per_msg() { python3 -c "print(f'{($2 - $1) * 1000 / $3:.3f}')"; }

dns_port=$(free_port)
# Authoritative for the zones mailscore asks about (bench/lib.sh).
bench_dns "$dns_port"
pids+=($!)

# dnsmasq serves no DNSSEC records (and no root): validation could only
# say "unknown" here; tests/dnssec_validation.rs validates a signed root.
probe_args=(--probe "${PROBE:-on}" --dnssec-validation "${DNSSEC:-off}")
if [ "${MX_PROBE:-}" = postfix ]; then
    # The sender's MX: Postfix 3.7 on its own port, as tests/support/mx.rs
    # sets it up (relay closed; STARTTLS).
    mx_port=$(free_port)
    mx="$work/mx"
    mkdir -p "$mx"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj /CN=mail.x.example -addext subjectAltName=DNS:mail.x.example \
        -keyout "$mx/key.pem" -out "$mx/cert.pem" 2>/dev/null
    start_postfix "$mx" "$mx_port" \
        "myhostname = mail.x.example" "mydestination =" "mynetworks = 192.0.2.0/24" \
        "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination" \
        "smtpd_tls_security_level = may" "smtpd_tls_chain_files = $mx/key.pem, $mx/cert.pem"
    probe_args+=(--probe-port "$mx_port" --probe-allow-private)
fi

smtp_port=$(free_port)
http_port=$(free_port)
# Each server runs in a session of its own, as Postfix's master makes
# itself one: with sched_autogroup on, a session is a CPU scheduling group,
# and on a busy machine a server left in this script's session would share
# its group's CPU with the smtp-source driving it, where Postfix does not.
# setsid keeps the pid (a background job here leads no process group).
setsid target/release/mailscore serve "${probe_args[@]}" ${STORE:+--store "$STORE"} --data-dir "$work/data" --domain localhost \
    --smtp-listen "127.0.0.1:$smtp_port" --http-listen "127.0.0.1:$http_port" \
    --dns "127.0.0.1:$dns_port" --dns-timeout 2 \
    --max-connections-per-ip 1000 --messages-per-ip-per-minute 100000000 \
    --max-analysis-backlog "${BACKLOG:-1000000}" \
    2>"$work/mailscore.log" &
mailscore_pid=$!
pids+=("$mailscore_pid")

sink_port=$(free_port)
setsid smtp-sink -u nobody "127.0.0.1:$sink_port" 1024 &
sink_pid=$!
pids+=("$sink_pid")
wait_port "$smtp_port"
wait_port "$http_port"
wait_port "$sink_port"
http="http://127.0.0.1:$http_port"

# Postfix as a receiver: a queue-writing MTA beside mailscore under the same
# load. Its smtpd answers 250 only once cleanup has written and fsynced the
# queue file; the bench recipients (@localhost) are relayed to discard, so
# what follows the 250 (qmgr, delivery, removal) is cheap and nothing
# leaves. The rest is Postfix's default, as an admin runs it: in_flow_delay
# 1s (PEER_POSTFIX=both measures 0 beside it); loopback is in mynetworks,
# so anvil does not count it (its defaults, 50 connections a client and no
# rate limit, would not bite at 50 sessions either). No lookups: not the
# client's name, not DNS for the (unused) SMTP client, and no alias_maps,
# which every smtpd opens at start (there is no aliases.db).
peers=()
case "${PEER_POSTFIX:-}" in
    "" | 0) ;;
    both) peers=(postfix postfix-flow0) ;;
    *) peers=(postfix) ;;
esac
declare -A peer_port peer_label=([postfix]="Postfix" [postfix-flow0]="Postfix (in_flow_delay 0)")
for peer in "${peers[@]}"; do
    peer_port[$peer]=$(free_port)
    settings=("myhostname = $peer.bench" "mydestination =" "relay_domains = localhost"
        "default_transport = discard" "relay_transport = discard" "alias_maps ="
        "smtpd_peername_lookup = no" "smtp_dns_support_level = disabled")
    [ "$peer" = postfix-flow0 ] && settings+=("in_flow_delay = 0")
    start_postfix "$work/$peer" "${peer_port[$peer]}" "${settings[@]}"
done
# Messages a peer has discarded so far: one per accepted message, once the
# queue manager got to it.
discarded() { grep -c 'status=sent' "$work/$1/maillog" || true; }
# Waits until PEER has discarded N messages in all: its own log, not only
# smtp-source's exit status, says every message was queued; and its
# deliveries must not run beside the next system's measurement.
wait_discarded() {
    for _ in $(seq 1200); do
        [ "$(discarded "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    echo "${peer_label[$1]}: $(discarded "$1") messages discarded, $2 expected" >&2
    grep -E 'reject|warning|error|fatal' "$work/$1/maillog" | tail -5 >&2
    exit 1
}
# "median (min–max)" of the arguments.
spread() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {printf "%s (%s–%s)", v[int((NR + 1) / 2)], v[1], v[NR]}'; }

probe() {
    python3 bench/probe.py --smtp "127.0.0.1:$smtp_port" --http "$http" "$@"
}

echo "mailscore $(target/release/mailscore --version 2>/dev/null || true) on $(nproc) cores; $MESSAGES messages of 2 KB per run"
# mailscore and Postfix both answer 250 after an fsync, and what one costs
# on a shared disk moves with the other tenants' writes (0.1 to 4 ms within
# minutes on the 2-core VM): each round prints it. Timed back to back, and
# 300 us apart as a group commit's rounds space them: on the 2-core VM
# back to back can be ten times faster (bench/fsync_gap.py, bench/README.md).
fsync_ms() {
    python3 - "$work/fsync-probe" <<'PY'
import os, sys, time
def timed(pause):
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    ms = []
    for _ in range(100):
        os.write(fd, b"x" * 4096)
        t = time.perf_counter()
        os.fsync(fd)
        ms.append((time.perf_counter() - t) * 1000)
        if pause:
            time.sleep(pause)
    os.close(fd)
    os.unlink(sys.argv[1])
    ms.sort()
    return f"p50 {ms[49]:.2f} ms, p90 {ms[89]:.2f} ms"
print(f"back to back {timed(0)}; 300 us apart {timed(0.0003)}")
PY
}
echo "an fsync of 4 KB appended in the work dir: $(fsync_ms)"
probe --count 20 --label "warm-up" >/dev/null

for sessions in $SESSIONS; do
    source_args=(-s "$sessions" -m "$MESSAGES" -l 2048 -N -f sender@x.example -t bench@localhost)
    ratios=()
    sink_rates=()
    ours_rates=()
    declare -A peer_rates=() peer_ratios=()
    for round in $(seq "$ROUNDS"); do
        fsync_now=$(fsync_ms)
        sink_cpu0=$(cpu_s "$sink_pid")
        t0=$(now)
        smtp-source "${source_args[@]}" "127.0.0.1:$sink_port"
        t1=$(now)
        sink_cpu1=$(cpu_s "$sink_pid")
        peer_lines=()
        for peer in "${peers[@]}"; do
            before=$(discarded "$peer")
            p0=$(now)
            smtp-source "${source_args[@]}" "127.0.0.1:${peer_port[$peer]}"
            p1=$(now)
            wait_discarded "$peer" $((before + MESSAGES))
            p2=$(now)
            peer_rate=$(rate "$MESSAGES" "$p0" "$p1")
            peer_rates[$peer]+=" $peer_rate"
            peer_lines+=("${peer_label[$peer]} $peer_rate msg/s, all $MESSAGES queued and discarded, the last $(python3 -c "print(f'{$p2 - $p1:.2f}')") s after the last 250")
        done
        ours_cpu0=$(cpu_s "$mailscore_pid")
        promoted0=$(promoted)
        # Timed from here, not from the end of smtp-sink's run: the peers ran
        # in between.
        ours_t0=$(now)
        smtp-source "${source_args[@]}" "127.0.0.1:$smtp_port"
        t2=$(now)
        # A marker message behind the load: its report means the backlog drained.
        probe --count 1 --poll-ms 5 --label "marker" >/dev/null
        t3=$(now)
        ours_cpu1=$(cpu_s "$mailscore_pid")
        sink_rate=$(rate "$MESSAGES" "$t0" "$t1")
        ours_rate=$(rate "$MESSAGES" "$ours_t0" "$t2")
        ratio=$(python3 -c "print(f'{$ours_rate / $sink_rate * 100:.0f}')")
        ratios+=("$ratio")
        drain=$(python3 -c "print(f'{$t3 - $t2:.2f}')")
        echo "sessions $sessions, round $round of $ROUNDS: smtp-sink $sink_rate msg/s, mailscore $ours_rate msg/s ($ratio% of smtp-sink); analysis backlog drained ${drain} s after the last 250"
        echo "    an fsync of 4 KB appended, before the round: $fsync_now"
        for i in "${!peers[@]}"; do
            peer=${peers[$i]}
            peer_rate=${peer_rates[$peer]##* }
            peer_ratio=$(python3 -c "print(f'{$ours_rate / $peer_rate:.2f}')")
            peer_ratios[$peer]+=" $peer_ratio"
            echo "    ${peer_lines[$i]}; mailscore ÷ ${peer_label[$peer]} ${peer_ratio}×"
        done
        sink_rates+=("$sink_rate")
        ours_rates+=("$ours_rate")
        echo "    analyses promoted from background to normal CPU priority: $(($(promoted) - promoted0)) of $MESSAGES"
        echo "    CPU per message: mailscore $(cpu_ms_per_msg "$ours_cpu0" "$ours_cpu1" "$MESSAGES") ms (receive, store, analyse, report), smtp-sink $(cpu_ms_per_msg "$sink_cpu0" "$sink_cpu1" "$MESSAGES") ms; mailscore peak RSS so far $(rss_kb "$mailscore_pid") kB"
    done
    echo "sessions $sessions: mailscore at $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{r[NR] = $1} END {print r[int((NR + 1) / 2)]}')% of smtp-sink, the median of ${ROUNDS} rounds (${ratios[*]})"
    if [ "${#peers[@]}" -gt 0 ]; then
        echo "sessions $sessions, msg/s median (min–max) of $ROUNDS rounds: smtp-sink $(spread "${sink_rates[@]}"), mailscore $(spread "${ours_rates[@]}")"
        for peer in "${peers[@]}"; do
            # shellcheck disable=SC2086 # space-separated figures
            echo "    ${peer_label[$peer]} $(spread ${peer_rates[$peer]}); mailscore ÷ ${peer_label[$peer]} $(spread ${peer_ratios[$peer]})× within a round"
        done
    fi
done

probe --count 300 --label "latency, unloaded"
smtp-source -s 20 -m "$((MESSAGES * 10))" -l 2048 -N -f sender@x.example -t load@localhost "127.0.0.1:$smtp_port" &
load_pid=$!
sleep 1
probe --count 300 --label "latency beside 20 smtp-source sessions"
kill "$load_pid" 2>/dev/null || true
wait "$load_pid" 2>/dev/null || true

id=$(curl -s "$http/api/tests" -X POST | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
python3 - "$smtp_port" "$id" <<'EOF'
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.ehlo("mail.x.example")
    s.sendmail("news@x.example", [f"{sys.argv[2]}@localhost"],
               "From: <news@x.example>\r\nSubject: wrk\r\n\r\nhello\r\n")
EOF
curl -s "$http/api/tests/$id?wait=10" >/dev/null
for path in "api/tests/$id" "tests/$id"; do
    rps=$(wrk -t2 -c50 -d10s "$http/$path" | awk '/Requests\/sec/ {print $2}')
    echo "wrk -t2 -c50 -d10s /$path: $rps requests/s"
done

if [ "$SOAK" -gt 0 ]; then
    # A steady load the analyzer keeps up with (a flood only grows the
    # backlog, which --max-analysis-backlog bounds in production).
    soak_ids=()
    [ "${SOAK_IDS:-one}" = many ] && soak_ids=(-N)
    smtp-source -s "${SOAK_SESSIONS:-5}" -m 100000000 -l 2048 "${soak_ids[@]}" -f sender@x.example -t soak@localhost "127.0.0.1:$smtp_port" &
    load_pid=$!
    for ((t = 30; t <= SOAK; t += 30)); do
        sleep 30
        echo "soak ${t}s: RSS $(awk '/^VmRSS/ {print $2}' "/proc/$mailscore_pid/status") kB, $(curl -s "$http/metrics" | awk '/^mailscore_messages_received_total / {r = $2} /^mailscore_analysis_unfinished / {u = $2} END {print r " received, " u " awaiting analysis"}')"
    done
    kill "$load_pid" 2>/dev/null || true
fi

echo "peak RSS: mailscore $(rss_kb "$mailscore_pid") kB, smtp-sink $(rss_kb "$sink_pid") kB"
echo "an fsync of 4 KB appended in the work dir, at the end: $(fsync_ms)"
# smtp-source -N gives each message a test of its own: the store holds them all.
received=$(curl -s "$http/metrics" | awk '/^mailscore_messages_received_total / {print $2}')
data_bytes=$(du -sb "$work/data" | cut -f1)
echo "data dir: $data_bytes bytes for $received messages received = $((data_bytes / ${received%.*})) bytes per 2 KB message (its test, report and history; WAL and TLS pair included)"
if [ "${MX_PROBE:-}" = postfix ]; then
    echo "the sender's MX was probed in $(grep -c 'disconnect from.*ehlo=' "$mx/maillog" || true) SMTP conversations (one per address per 10 minutes: the probe cache)"
fi
if grep -qi panick "$work/mailscore.log"; then
    echo "mailscore panicked:" >&2
    grep -i -m5 panick "$work/mailscore.log" >&2
    exit 1
fi
