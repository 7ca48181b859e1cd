"""Attributes the SSE phase's slowest events (bench/streams/sse-tail.sh writes its inputs).

Reads OUT/events.txt (ssefan's SSEFAN_EVENTS lines: index, scheduled ms from the client's
origin, append ms, fastest and slowest delivery ms), OUT/t0.txt (CLOCK_MONOTONIC just before
the client started), OUT/fdatasync.txt (`perf script -F tid,time,event` lines of the server's
fdatasync enter and exit, on the monotonic clock) and OUT/timehist.txt (`perf sched timehist`).

The client's origin is a little after t0 (it connects its subscribers first): it is found as the
offset that puts the most events' sends within their append latency before an fdatasync. Each
event then gets the first fdatasync after its send, and the CPU-0 run time of every thread
inside [send, send + slowest delivery], summed by kind (JIT, GC, event loop, writer, idle, ...).

Usage: python3 sse-tail.py OUT [TOP]
"""

import bisect
import collections
import sys


def kind(name):
    if "CompilerThre" in name or name.startswith("C1 ") or name.startswith("C2 "):
        return "JIT"
    if "GC Thread" in name or "VM Thread" in name or name.startswith("G1 "):
        return "GC/VM"
    if "<idle>" in name:
        return "idle"
    if "eventloo" in name:
        return "event loop"
    if "tether-writer" in name:
        return "writer"
    return name.split("[")[0]


def main():
    out, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 12
    # Each thread's calls, its entries paired with its exits; the writer is the thread with the most.
    calls = collections.defaultdict(list)
    for line in open(f"{out}/fdatasync.txt"):
        parts = line.split()
        calls[parts[0]].append((float(parts[1].rstrip(":")), "enter" in parts[2]))
    pairs = []
    for tid, seq in calls.items():
        done, start = [], None
        for t, is_enter in seq:
            if is_enter:
                start = t
            elif start is not None:
                done.append((start, t))
                start = None
        pairs.append((len(done), tid, done))
    if not pairs:
        sys.exit("no fdatasync calls traced")
    _, writer, done = max(pairs)
    enter, exit_ = [e for e, _ in done], [x for _, x in done]
    t0 = float(open(f"{out}/t0.txt").read())
    events = [tuple(float(x) for x in line.split()) for line in open(f"{out}/events.txt") if line.strip()]
    if not events or not enter:
        sys.exit("no events or no completed fdatasync calls traced")

    def first_sync(send, append_ms):
        j = bisect.bisect_left(enter, send)
        return j if j < len(enter) and enter[j] - send < append_ms / 1000 else None

    # The offset at which the most events have their fdatasync within their append latency. An
    # offset a whole event period off matches fewer (the printed runner-up says by how much).
    scored = sorted(
        ((sum(first_sync(t0 + off / 1e4 + e[1] / 1000, e[2]) is not None for e in events), off / 1e4)
         for off in range(0, 2000)),
        key=lambda h: (-h[0], h[1]))
    best = scored[0]
    runner_up = next((h for h in scored if abs(h[1] - best[1]) > 0.005), (0, 0))
    origin = t0 + best[1]

    runs = []  # (start, end, thread) on CPU 0
    for line in open(f"{out}/timehist.txt").readlines()[3:]:
        parts = line.split()
        if len(parts) < 6 or parts[1] != "[0000]":
            continue
        try:
            end, run_ms = float(parts[0]), float(parts[-1])
        except ValueError:
            continue
        runs.append((end - run_ms / 1000, end, " ".join(parts[2:-3])))

    rows = []
    for index, scheduled, append_ms, fastest, slowest in events:
        send = origin + scheduled / 1000
        j = first_sync(send, append_ms)
        sync_ms = (exit_[j] - enter[j]) * 1000 if j is not None else None
        rows.append((slowest, int(index), append_ms, fastest, sync_ms, send))
    rows.sort(reverse=True)

    syncs = sorted((x - e) * 1000 for e, x in zip(enter, exit_))
    n = len(syncs)
    print(f"client origin {best[1] * 1000:.1f} ms after t0 ({best[0]} of {len(events)} events matched, the best "
          f"offset more than 5 ms away {runner_up[0]}); writer thread {writer}; "
          f"fdatasync over the trace: {n} calls, p50 {syncs[n // 2]:.3f} ms, p99 {syncs[int(n * 0.99)]:.3f} ms, "
          f"max {syncs[-1]:.3f} ms")
    print("| event | slowest delivery, ms | its append, ms | its fdatasync, ms | CPU 0 inside its window, ms |")
    print("|---|---|---|---|---|")
    for slowest, index, append_ms, fastest, sync_ms, send in rows[:top]:
        window = collections.Counter()
        for start, end, thread in runs:
            overlap = min(end, send + slowest / 1000) - max(start, send)
            if overlap > 0:
                window[kind(thread)] += overlap * 1000
        spent = ", ".join(f"{k} {v:.2f}" for k, v in window.most_common(5))
        sync = f"{sync_ms:.2f}" if sync_ms is not None else "?"
        print(f"| {index} | {slowest:.2f} | {append_ms:.2f} | {sync} | {spent} |")


if __name__ == "__main__":
    main()
