#!/usr/bin/env bash
# Rspamd beside SpamAssassin: messages per second per core, each warm, on
# the same corpus, and rspamd's CPU time on a 10 MB attachment.
#
#   bench/rspamc.sh [ROUNDS]         # default 5 rounds over every file
#
# Starts, each on a free loopback port: dnsmasq answering every name
# NXDOMAIN (no network; what the tests' DNS server does for unknown
# names), rspamd with the package's rules and tests/rspamd.rs's local
# config (normal worker only, count 1; fuzzy, RBL and ASN off: no
# redis, no outside servers), and spamd with network tests off (-L, as
# bench/spamc.sh and tests/spamd.rs). Each is warmed with the corpus
# once, then `rspamc` (/checkv2, what mailscore asks) and `spamc -R`
# (REPORT, what mailscore asks) send tests/corpus/*.eml plus a ~50 KB
# HTML newsletter made here, one message at a time, ROUNDS times.
#
# Per core: messages divided by the CPU seconds (user + system) the
# engine's processes used meanwhile, read from /proc: the clients' own
# start-up is not counted. Wall-clock messages/s (one client, one
# message at a time) are shown too.
#
# Needs Debian's rspamd, spamassassin, spamc and dnsmasq-base packages.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${1:-5}
spamd=$(command -v spamd || echo /usr/sbin/spamd)
for tool in rspamd rspamc spamc dnsmasq python3; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
        echo "needs $tool (apt-get install rspamd spamassassin spamc dnsmasq-base)" >&2
        exit 2
    }
done
[ -x "$spamd" ] || { echo "needs spamd (apt-get install spamassassin)" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- the corpus ---------------------------------------------------------
mkdir -p "$work/corpus"
cp tests/corpus/*.eml "$work/corpus/"
python3 - "$work/corpus/newsletter_50k.eml" "$work/attachment_10m.eml" <<'EOF'
import base64, os, sys
items = []
for i in range(120):
    items.append(
        f'<tr><td><a href="https://news.example.com/article/{i}?utm_source=letter">'
        f'<img src="https://cdn.example.com/img/{i}.png" alt="Item {i}" width="120"></a></td>'
        f'<td><h2>Story number {i}</h2><p>Our readers asked about topic {i}; here is what '
        f'we found, with a link to <a href="https://news.example.com/more/{i}">read more</a>.</p></td></tr>\n'
    )
html = "<html><body><table>\n" + "".join(items) + "</table>\n" \
    '<p><a href="https://news.example.com/unsubscribe">Unsubscribe</a></p></body></html>\n'
text = "".join(f"Story number {i}: https://news.example.com/article/{i}\n" for i in range(120))
head = (
    "From: Example News <news@example.com>\r\nTo: reader@example.org\r\n"
    "Subject: This week's stories\r\nDate: Mon, 01 Dec 2025 09:00:00 +0000\r\n"
    "Message-ID: <letter-1@example.com>\r\nMIME-Version: 1.0\r\n"
    "List-Unsubscribe: <https://news.example.com/unsubscribe>\r\n"
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
)
with open(sys.argv[1], "w") as f:
    f.write(head + 'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
            "\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html +
            "\r\n--b1--\r\n")
data = base64.encodebytes(os.urandom(7_500_000)).decode()
with open(sys.argv[2], "w") as f:
    f.write(head.replace("letter-1", "attachment-1") +
            'Content-Type: multipart/mixed; boundary="b2"\r\n\r\n'
            "--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe report is attached.\r\n"
            '--b2\r\nContent-Type: application/pdf; name="report.pdf"\r\n'
            'Content-Disposition: attachment; filename="report.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n" + data + "--b2--\r\n")
EOF
files=("$work"/corpus/*.eml)

# --- the engines --------------------------------------------------------
dns_port=$(free_port)
# No upstream, every domain local: NXDOMAIN for every name, at once.
dnsmasq --keep-in-foreground --port="$dns_port" --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --user=root --pid-file= \
    --local='/#/' 2>"$work/dnsmasq.log" &
pids+=($!)

rspamd_port=$(free_port)
conf="$work/rspamd"
mkdir -p "$conf/override.d"
printf 'bind_socket = "127.0.0.1:%s";\ncount = 1;\n' "$rspamd_port" >"$conf/override.d/worker-normal.inc"
echo 'enabled = false;' >"$conf/override.d/worker-controller.inc"
echo 'enabled = false;' >"$conf/override.d/worker-proxy.inc"
printf 'type = "console";\nlevel = "warning";\n' >"$conf/override.d/logging.inc"
printf 'dns {\n  nameserver = ["127.0.0.1:%s"];\n  timeout = 1s;\n  retransmits = 1;\n}\n' "$dns_port" \
    >"$conf/override.d/options.inc"
for module in fuzzy_check rbl asn; do echo 'enabled = false;' >"$conf/override.d/$module.conf"; done
as_root=()
[ "$(id -u)" = 0 ] && as_root=(-u root -g root -i)
rspamd -f -c /etc/rspamd/rspamd.conf "${as_root[@]}" \
    --var LOCAL_CONFDIR="$conf" --var DBDIR="$conf" --var RUNDIR="$conf" --var LOGDIR="$conf" \
    >"$work/rspamd.log" 2>&1 &
rspamd_pid=$!
pids+=("$rspamd_pid")

spamd_port=$(free_port)
"$spamd" -L -i 127.0.0.1 -p "$spamd_port" -m 2 -x -s stderr --pidfile="$work/spamd.pid" 2>"$work/spamd.log" &
spamd_pid=$!
pids+=("$spamd_pid")

rspamc_one() { rspamc -h "127.0.0.1:$rspamd_port" -t 60 "$1" >/dev/null; }
spamc_one() { spamc -d 127.0.0.1 -p "$spamd_port" -R <"$1" >/dev/null; }
for _ in $(seq 300); do
    rspamc_one tests/corpus/ham_personal_plain.eml 2>/dev/null && break
    sleep 0.2
done
for _ in $(seq 300); do
    spamc_one tests/corpus/ham_personal_plain.eml 2>/dev/null && break
    sleep 0.2
done

# CPU seconds (user + system) of a process and all its descendants, live
# or reaped (spamd replaces a child after 200 messages).
cpu_seconds() {
    python3 - "$1" <<'EOF'
import os, sys
ticks = os.sysconf("SC_CLK_TCK")
children = {}
stats = {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    children.setdefault(fields[1], []).append(pid)
    # utime, stime, and those of its children it has waited for
    stats[pid] = sum(int(f) for f in fields[11:15])
todo, total = [sys.argv[1]], 0
while todo:
    pid = todo.pop()
    total += stats.get(pid, 0)
    todo += children.get(pid, [])
print(total / ticks)
EOF
}

# Waits (at most 60 s) until the engine is idle: rspamd compiles its
# hyperscan databases in the background after it starts.
settle() {
    local before after
    for _ in $(seq 60); do
        before=$(cpu_seconds "$1")
        sleep 1
        after=$(cpu_seconds "$1")
        python3 -c "import sys; sys.exit(0 if $after - $before < 0.02 else 1)" && return
    done
}

# One engine over the files, ROUNDS times: "N msgs, X msg/s wall, Y msg/s per core".
run() {
    local engine=$1 pid=$2 count=0 start end cpu0 cpu1
    shift 2
    for file in "$@"; do "${engine}_one" "$file" || true; done # warm
    settle "$pid"
    cpu0=$(cpu_seconds "$pid")
    start=$(date +%s.%N)
    for _ in $(seq "$ROUNDS"); do
        for file in "$@"; do
            "${engine}_one" "$file" || true
            count=$((count + 1))
        done
    done
    end=$(date +%s.%N)
    cpu1=$(cpu_seconds "$pid")
    python3 -c "
wall = $end - $start; cpu = $cpu1 - $cpu0
print(f'{$count} messages: {$count / wall:.1f} msg/s wall (one client), '
      f'{$count / cpu if cpu else float(\"inf\"):.1f} msg/s per core '
      f'({cpu * 1000 / $count:.1f} ms CPU per message)')"
}

echo "corpus: ${#files[@]} messages (tests/corpus/*.eml and a $(stat -c %s "$work/corpus/newsletter_50k.eml")-byte newsletter), $ROUNDS rounds"
echo "rspamd $(rspamd --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1), rspamc /checkv2: $(run rspamc "$rspamd_pid" "${files[@]}")"
echo "spamd $(spamd --version 2>/dev/null | head -1 | grep -o '[0-9][0-9.]*' | head -1), spamc -R: $(run spamc "$spamd_pid" "${files[@]}")"
letter=()
for _ in $(seq 10); do letter+=("$work/corpus/newsletter_50k.eml"); done
echo "newsletter alone, 10 a round: rspamd $(run rspamc "$rspamd_pid" "${letter[@]}")"
echo "newsletter alone, 10 a round: spamd  $(run spamc "$spamd_pid" "${letter[@]}")"

# The 10 MB attachment: rspamd only (spamc sends at most 500 KB).
big="$work/attachment_10m.eml"
cpu0=$(cpu_seconds "$rspamd_pid")
start=$(date +%s.%N)
answer=$(rspamc -h "127.0.0.1:$rspamd_port" -t 60 "$big")
end=$(date +%s.%N)
cpu1=$(cpu_seconds "$rspamd_pid")
echo "$answer" | grep -E '^(Action|Spam|Score|Symbol: (MIME|R_))' | head -6 | sed 's/^/  /'
python3 -c "print(f'10 MB attachment ($(stat -c %s "$big") bytes), rspamd: {($cpu1 - $cpu0) * 1000:.0f} ms CPU, {($end - $start) * 1000:.0f} ms wall')"
