#!/usr/bin/env python3
"""Summarises a G1 log written with -Xlog:gc:file=FILE:uptime (bench/streams/heap.sh).

Prints the young and full pauses (count, median, p99, max, total), the concurrent mark cycles,
the count of each kind of pause, and the heap in use after the last pause before each of 60, 120,
300, 600, 900 and 1200 s of the JVM's uptime (what the old generation holds, plus what the last
young pause kept).

Usage: gc-summary.py GC_LOG
"""
import re
import sys

PAUSE = re.compile(
    r"\[(\d+\.\d+)s\].*GC\(\d+\) (Pause [A-Za-z]+(?: \([A-Za-z ]+\))?).*?(\d+)M->(\d+)M\((\d+)M\) (\d+\.\d+)ms"
)


def main(path):
    pauses, kinds, heap, cycles = [], {}, [], 0
    with open(path) as log:
        for line in log:
            m = PAUSE.match(line)
            if m:
                kind = m.group(2)
                kinds[kind] = kinds.get(kind, 0) + 1
                if kind.startswith(("Pause Young", "Pause Full")):
                    pauses.append(float(m.group(6)))
                    heap.append((float(m.group(1)), int(m.group(4)), int(m.group(5))))
            elif "Concurrent Mark Cycle" in line and line.rstrip().endswith("ms"):
                cycles += 1
    if not pauses:
        print(f"no pauses in {path}")
        return
    pauses.sort()

    def pct(p):
        return pauses[min(len(pauses) - 1, int(p * len(pauses)))]

    print(
        f"GC: {len(pauses)} young and full pauses, median {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms,"
        f" max {pauses[-1]:.2f} ms, {sum(pauses) / 1000:.2f} s in all; {cycles} concurrent mark cycles"
    )
    print("pauses by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    marks = []
    for mark in (60, 120, 300, 600, 900, 1200):
        before = [h for h in heap if h[0] <= mark]
        if before and before[-1][0] > mark - 30:
            marks.append(f"{mark} s: {before[-1][1]} MB of {before[-1][2]} MB")
    print("heap in use after the last pause before " + "; ".join(marks))


if __name__ == "__main__":
    main(sys.argv[1])
