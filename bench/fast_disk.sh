#!/usr/bin/env bash
# A disk whose flush is cheap, to tell the code's cost from this VM's disk's.
#
#   bench/fast_disk.sh up     # prints DIR: an ext4 on a loop device, its
#                             # image on tmpfs (/dev/shm)
#   TMPDIR=DIR PEER_POSTFIX=1 MESSAGES=3000 SESSIONS=20 ROUNDS=5 bench/ingest.sh
#   bench/fast_disk.sh down   # unmounts it and frees the image
#
# The loop device has a write-back cache, so ext4 and SQLite send it the same
# flushes as they send the VM's disk, and `fsync` returns only after them; but
# the loop driver answers a flush by syncing the image's file, which tmpfs
# does at once (0.08 ms p50 for a sync 300 us after a write, against
# 0.25-0.9 ms for the VM's disk under a flood, bench/README.md). That is how a disk with a
# power-loss-protected cache behaves. It is NOT durable (tmpfs is memory):
# a figure to compare with, never a place for data. Needs root. DIR is under
# /tmp because bench/ingest.sh's Postfix logs only under /tmp or /var.
set -euo pipefail

image=/dev/shm/mailscore-fast-disk.img
dir=/tmp/mailscore-fast-disk

case "${1:-}" in
up)
    if ! mountpoint -q "$dir"; then
        truncate -s "${SIZE:-4G}" "$image"
        mkfs.ext4 -q -F "$image"
        mkdir -p "$dir"
        mount -o loop "$image" "$dir"
        chmod 1777 "$dir"
    fi
    echo "$dir"
    ;;
down)
    if mountpoint -q "$dir"; then umount "$dir"; fi
    rm -f "$image"
    rmdir "$dir" 2>/dev/null || true
    ;;
*)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
