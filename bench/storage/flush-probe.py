#!/usr/bin/env python3
"""What one group commit's flush costs on this disk, two ways, without the server.

Writes 300 bytes at a time into a zero-filled, synced 16 MiB file (a preallocated segment), then
makes each write durable either with fdatasync of that file, or with sync_file_range (the data
pages only) followed by fdatasync of a second, clean file whose inode sits in another inode-table
block (on ext4, an fdatasync of a clean file still sends the device's cache flush). Prints each
way's latency and the disk requests per flush (/proc/diskstats, the device holding --dir).

  bench/storage/flush-probe.py --dir /var/tmp/probe --flushes 400 --pause-ms 20   # 50 flushes a second
  bench/storage/flush-probe.py --dir /var/tmp/probe --flushes 3000                # flat out

Linux only; it deletes what it made in --dir.
"""
import argparse, ctypes, os, time

SYNC_ALL = 7  # SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER
libc = ctypes.CDLL(None, use_errno=True)
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]


def device_of(path):
    for line in open("/proc/diskstats"):
        f = line.split()
        if int(f[0]) == os.major(os.stat(path).st_dev) and int(f[1]) == os.minor(os.stat(path).st_dev):
            return f[2]
    raise SystemExit(f"no /proc/diskstats line for the device of {path}")


def writes(device):
    for line in open("/proc/diskstats"):
        f = line.split()
        if f[2] == device:
            return int(f[7])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--flushes", type=int, default=400)
    ap.add_argument("--pause-ms", type=float, default=0)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    device = device_of(a.dir)
    made = []

    def create(name):
        p = os.path.join(a.dir, name)
        made.append(p)
        return os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC)

    seg = create("segment")
    for _ in range(16):
        os.write(seg, b"\0" * (1 << 20))
    os.fsync(seg)
    # Inodes are allocated next to each other: skip past the segment's inode-table block (16 or
    # 32 inodes) so that the clean file's fdatasync does not write the segment's dirty block.
    for k in range(40):
        os.close(create(f"pad{k}"))
    clean = create("clean")
    os.fsync(clean)
    print(f"device {device}; inodes: segment {os.fstat(seg).st_ino}, clean file {os.fstat(clean).st_ino}")

    def run(way):
        lat, at, w0 = [], 0, writes(device)
        for _ in range(a.flushes):
            os.pwrite(seg, b"x" * 300, at)
            t = time.perf_counter()
            if way == "fdatasync":
                os.fdatasync(seg)
            else:
                if libc.sync_file_range(seg, at & ~4095, (at & 4095) + 4096, SYNC_ALL) != 0:
                    raise OSError(ctypes.get_errno(), "sync_file_range")
                os.fdatasync(clean)
            lat.append(time.perf_counter() - t)
            at += 300
            if a.pause_ms:
                time.sleep(a.pause_ms / 1000)
        per = (writes(device) - w0) / a.flushes
        lat.sort()
        n = len(lat)
        print(f"{way:28s} p50 {lat[n // 2] * 1e6:5.0f} us  p90 {lat[int(n * .9)] * 1e6:5.0f} us  "
              f"p99 {lat[int(n * .99)] * 1e6:5.0f} us  disk writes per flush {per:.2f}")

    try:
        for _ in range(a.rounds):
            run("fdatasync")
            run("sync_file_range + clean file")
    finally:
        for p in made:
            os.unlink(p)


if __name__ == "__main__":
    main()
