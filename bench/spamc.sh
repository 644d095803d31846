#!/usr/bin/env bash
# SpamAssassin's time per message, beside mailscore's analysis time.
#
#   cargo bench --bench analysis     # first: writes target/bench-messages/
#   bench/spamc.sh [ROUNDS]          # default 5 rounds over every file
#
# Starts spamd (network tests off, -L, as in tests/spamd.rs) on a free
# loopback port, warms it with one message, then times `spamc -R` (the
# REPORT mailscore asks for) over tests/corpus/*.eml and over the
# benchmark's three messages. Compare with `cargo bench --bench analysis`:
# its "corpus" group is mailscore's parse + analyse + score for the same
# corpus (time / 44), its other groups the same three messages.
#
# Needs Debian's spamassassin and spamc packages.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
spamd=$(command -v spamd || echo /usr/sbin/spamd)
[ -x "$spamd" ] && command -v spamc >/dev/null || {
    echo "needs spamd and spamc (apt-get install spamassassin spamc)" >&2
    exit 2
}

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$spamd" -L -i 127.0.0.1 -p "$port" -m 2 -x -s stderr --pidfile="$work/spamd.pid" 2>"$work/spamd.log" &
spamd_pid=$!
trap 'kill "$spamd_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    spamc -d 127.0.0.1 -p "$port" -R <tests/corpus/ham_personal_plain.eml >/dev/null 2>&1 && break
    sleep 0.2
done

# Mean milliseconds per message of `spamc -R` over the files, ROUNDS times.
time_spamc() {
    local start end count=0
    start=$(date +%s.%N)
    for _ in $(seq "$ROUNDS"); do
        for file in "$@"; do
            spamc -d 127.0.0.1 -p "$port" -R <"$file" >/dev/null || true
            count=$((count + 1))
        done
    done
    end=$(date +%s.%N)
    python3 -c "print(f'{($end - $start) * 1000 / $count:.1f} ms per message ({$count} runs)')"
}

echo "spamc -R against a warm spamd ($(spamd --version 2>/dev/null | head -1 || echo spamd)):"
echo "  tests/corpus ($(ls tests/corpus/*.eml | wc -l) messages): $(time_spamc tests/corpus/*.eml)"
if [ -d target/bench-messages ]; then
    for file in target/bench-messages/*.eml; do
        echo "  $(basename "$file" .eml) ($(stat -c %s "$file") bytes): $(time_spamc "$file")"
    done
else
    echo "  (run cargo bench --bench analysis first for the benchmark's three messages)"
fi
