#!/usr/bin/env bash
# Runs every store measurement and prints the Markdown tables (bench/README.md).
#
#   bench/stores/run.sh                 # everything, 3 rounds of commits/s
#   ROUNDS=5 DATA=/var/tmp/stores bench/stores/run.sh
#
# DATA must be on a real disk, not tmpfs (an fsync on tmpfs costs nothing).
# Results accumulate in $RESULTS (tab-separated); `stores table $RESULTS`
# prints them again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ROUNDS="${ROUNDS:-3}"
STORES="${STORES:-sled redb fjall sqlite}"
SESSIONS="${SESSIONS:-1 20 50}"
COUNT="${COUNT:-20000}"         # messages per commits/s round
COUNT_ONE="${COUNT_ONE:-2000}"  # ... with one session (one fsync per message)
FILL="${FILL:-100000}"          # 2 KB messages for size, memory and reads
FILL_LARGE="${FILL_LARGE:-10000}"
READS="${READS:-10000}"
DATA="${DATA:-$here/../../target/bench-stores/data}"
RESULTS="${RESULTS:-$here/../../target/bench-stores/results-$(date -u +%Y%m%dT%H%M%S).tsv}"
PHASES="${PHASES:-commits fill}"

mkdir -p "$DATA" "$(dirname "$RESULTS")"
if [ "$(stat -f -c %T "$DATA")" = tmpfs ]; then
    echo "$DATA is on tmpfs: fsync is free there; pick a real disk" >&2
    exit 1
fi
(cd "$here" && CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo build --release --quiet)
bin="$here/target/release/mailscore-bench-stores"
echo "results: $RESULTS" >&2

for phase in $PHASES; do
    case "$phase" in
    commits)
        for round in $(seq "$ROUNDS"); do
            for n in $SESSIONS; do
                for store in $STORES; do
                    count="$COUNT"
                    [ "$n" = 1 ] && count="$COUNT_ONE"
                    echo "round $round: $store, $n session(s), $count messages" >&2
                    "$bin" commits --store "$store" --sessions "$n" --count "$count" \
                        --size 2048 --dir "$DATA/$store" --out "$RESULTS" >/dev/null
                done
            done
        done
        ;;
    fill)
        for store in $STORES; do
            echo "fill: $store, $FILL × 2 KB, default cache, then delete half" >&2
            "$bin" fill --store "$store" --count "$FILL" --size 2048 --reads "$READS" \
                --delete --dir "$DATA/$store" --out "$RESULTS" >/dev/null
            echo "fill: $store, $FILL × 2 KB, 64 MB cache" >&2
            "$bin" fill --store "$store" --count "$FILL" --size 2048 --reads "$READS" \
                --cache 64 --dir "$DATA/$store" --out "$RESULTS" >/dev/null
            echo "fill: $store, $FILL_LARGE × 50 KB, default cache, then delete half" >&2
            "$bin" fill --store "$store" --count "$FILL_LARGE" --size 51200 --reads 0 \
                --delete --dir "$DATA/$store" --out "$RESULTS" >/dev/null
        done
        ;;
    esac
done
"$bin" table "$RESULTS"
