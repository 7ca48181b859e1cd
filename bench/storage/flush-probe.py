#!/usr/bin/env python3
"""What one group commit's flush costs on this disk, two ways, without the server.

Writes 300 bytes at a time into a zero-filled, synced 16 MiB file (a preallocated segment), then
makes each write durable either with fdatasync of that file, or with sync_file_range (the data
pages only) followed by fdatasync of a second, clean file (on ext4, an fdatasync of a clean file
still sends the device's cache flush). Prints each way's latency and the write requests per flush
that /proc/diskstats counts for the device holding --dir (the whole device, other processes'
writes included; on this kernel a cache flush is counted there as a write).

  bench/storage/flush-probe.py --dir /var/tmp/flush-probe --flushes 400 --pause-ms 20   # 50 flushes a second
  bench/storage/flush-probe.py --dir /var/tmp/flush-probe --flushes 3000                # flat out

Linux only. It makes its files in --dir (refusing to touch files already there) and deletes them.
"""
import argparse, ctypes, os, time

SYNC_ALL = 7  # SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER
FILE_BYTES = 16 << 20
WRITE = b"x" * 300
libc = ctypes.CDLL(None, use_errno=True)
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]


def device_of(path):
    dev = os.stat(path).st_dev
    for line in open("/proc/diskstats"):
        f = line.split()
        if int(f[0]) == os.major(dev) and int(f[1]) == os.minor(dev):
            return f[2]
    raise SystemExit(f"no /proc/diskstats line for the device of {path}")


def writes(device):
    for line in open("/proc/diskstats"):
        f = line.split()
        if f[2] == device:
            return int(f[7])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="a directory on the disk to measure")
    ap.add_argument("--flushes", type=int, default=400, help="flushes per way and round")
    ap.add_argument("--pause-ms", type=float, default=0, help="pause after each flush")
    ap.add_argument("--rounds", type=int, default=2, help="rounds, each way once per round")
    a = ap.parse_args()
    most = FILE_BYTES // len(WRITE)  # each way writes from the file's start: all of them inside it
    if not 1 <= a.flushes <= most:
        ap.error(f"--flushes must be 1..{most}: the writes must stay inside the 16 MiB file")
    if a.pause_ms < 0 or a.rounds < 1:
        ap.error("--pause-ms must be 0 or more, --rounds 1 or more")
    os.makedirs(a.dir, exist_ok=True)
    device = device_of(a.dir)
    made = []

    def create(name):
        p = os.path.join(a.dir, name)
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        made.append(p)
        return fd

    def run(way, seg, clean):
        lat, at, w0 = [], 0, writes(device)
        for _ in range(a.flushes):
            os.pwrite(seg, WRITE, at)
            t = time.perf_counter()
            if way == "fdatasync":
                os.fdatasync(seg)
            else:
                if libc.sync_file_range(seg, at, len(WRITE), SYNC_ALL) != 0:
                    raise OSError(ctypes.get_errno(), "sync_file_range")
                os.fdatasync(clean)
            lat.append(time.perf_counter() - t)
            at += len(WRITE)
            if a.pause_ms:
                time.sleep(a.pause_ms / 1000)
        per = (writes(device) - w0) / a.flushes
        lat.sort()
        n = len(lat)
        print(f"{way:28s} p50 {lat[n // 2] * 1e6:5.0f} us  p90 {lat[int(n * .9)] * 1e6:5.0f} us  "
              f"p99 {lat[int(n * .99)] * 1e6:5.0f} us  disk writes per flush {per:.2f}")

    try:
        seg = create("segment")
        for _ in range(FILE_BYTES >> 20):
            os.write(seg, b"\0" * (1 << 20))
        os.fsync(seg)
        # Inodes are allocated next to each other, 16 or 32 to an inode-table block: skip past the
        # segment's block, so that the clean file's fdatasync does not write it.
        for k in range(40):
            os.close(create(f"pad{k}"))
        clean = create("clean")
        os.fsync(clean)
        a_ino, b_ino = os.fstat(seg).st_ino, os.fstat(clean).st_ino
        print(f"device {device}; inodes: segment {a_ino}, clean file {b_ino}")
        if (a_ino - 1) // 32 == (b_ino - 1) // 32:
            print("warning: the two inodes may share an inode-table block; the second way then writes it too")
        for _ in range(a.rounds):
            run("fdatasync", seg, clean)
            run("sync_file_range + clean file", seg, clean)
    finally:
        for p in made:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


if __name__ == "__main__":
    main()
