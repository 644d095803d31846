#!/usr/bin/env python3
"""How long an fsync takes on this disk when the syncs come back to back,
and when they come a little apart, as a group-commit writer's do.

Each round overwrites 160 KB of a 16 MB file (a writer round's WAL frames
beside a 20-session flood) and fsyncs it, then sleeps GAP microseconds
(the round's SQL and the wait for the next one). Prints p50 / p90 per gap.

    python3 bench/fsync_gap.py [DIR]   # DIR: where the file goes (default .)
"""
import os
import sys
import time

ROUND = 160 * 1024
SIZE = 16 << 20
GAPS_US = [0, 50, 150, 300, 500]
SECONDS = 2.0


def measure(fd, gap_us):
    data = os.urandom(ROUND)
    offset, times = 0, []
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        if offset + ROUND > SIZE:
            offset = 0
        os.pwrite(fd, data, offset)
        offset += ROUND
        start = time.perf_counter()
        os.fsync(fd)
        times.append(time.perf_counter() - start)
        if gap_us:
            time.sleep(gap_us / 1e6)
    times.sort()
    return len(times), times[len(times) // 2] * 1e3, times[len(times) * 9 // 10] * 1e3


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    path = os.path.join(directory, "fsync_gap.tmp")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, b"\0" * SIZE, 0)  # allocated: the rounds overwrite
        os.fsync(fd)
        for gap in GAPS_US:
            n, p50, p90 = measure(fd, gap)
            print(f"gap {gap:3d} us: {n:6d} fsyncs of 160 KB, p50 {p50:.3f} ms, p90 {p90:.3f} ms")
    finally:
        os.close(fd)
        os.unlink(path)


if __name__ == "__main__":
    main()
