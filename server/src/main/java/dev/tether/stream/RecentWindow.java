package dev.tether.stream;

import dev.tether.store.StoredMessage;
import java.util.ArrayList;
import java.util.List;

/**
 * The most recent committed messages of one stream, bounded in bytes, so that live readers
 * (long-poll, SSE fan-out) are served from memory instead of the store. It keeps at least the
 * newest message, whatever its size, unless the {@link MemoryBudget} needs the room (windows are
 * a cache, emptied least recently used first, and a reader that misses reads the store) or the
 * message is older than {@link #MAX_AGE_NANOS}.
 *
 * <p>Why an age limit: a live reader reads a message within milliseconds of its commit, so what a
 * window holds for longer serves only readers that fell behind, who can read the store. On a slow
 * stream, though, a window of 8 KiB holds its messages for many seconds (32 of 256 bytes, at 2.5
 * a second, for 13 s), long enough for every young collection to copy them and then promote them:
 * with 20,000 such streams the windows held 164 MB and G1's pauses took 90 ms at the median
 * (docs/benchmarks.md). Dropped after a second, most of them die young.
 *
 * <p>The messages are a ring in position order, so a reader finds where it starts by binary search:
 * the SSE fan-out reads the window once per subscriber per event, and a scan from the oldest
 * message cost a pass over thousands of small messages each time.
 *
 * <p>Thread-safe: the writer appends after each commit; readers copy out under the monitor; the
 * budget may empty it from any thread. Size changes are reported to the budget after the monitor
 * is released.
 */
final class RecentWindow {
    /** How long a message stays at most: 1 s (dropped by the next {@link MemoryBudget#expire} after that). */
    static final long MAX_AGE_NANOS = 1_000_000_000L;

    private final int capacityBytes;
    private final MemoryBudget budget;
    private final Ring messages = new Ring();
    private long bytes;

    private volatile long lastUsed;

    RecentWindow(int capacityBytes, MemoryBudget budget) {
        this.capacityBytes = capacityBytes;
        this.budget = budget;
    }

    long lastUsed() {
        return lastUsed;
    }

    void append(List<StoredMessage> committed) {
        long delta;
        long now = System.nanoTime();
        synchronized (this) {
            long before = bytes;
            for (StoredMessage m : committed) {
                if (messages.size() > 0 && messages.last().end() != m.position()) {
                    clearLocked();
                }
                messages.add(m, now);
                bytes += m.length();
            }
            while (bytes > capacityBytes && messages.size() > 1) {
                bytes -= messages.removeFirst().length();
            }
            delta = bytes - before;
            budget.track(this, messages.size() == 0);
        }
        lastUsed = budget.tick();
        budget.cachedChanged(delta);
    }

    /** Where the window's last message ends, or -1 when it is empty. */
    synchronized long end() {
        return messages.size() == 0 ? -1 : messages.last().end();
    }

    void clear() {
        long freed;
        synchronized (this) {
            freed = bytes;
            clearLocked();
            budget.track(this, true);
        }
        budget.cachedChanged(-freed);
    }

    /** Drops the messages appended before {@code cutoff} ({@link System#nanoTime}). */
    void expire(long cutoff) {
        long freed = 0;
        synchronized (this) {
            int removed = 0;
            while (messages.size() > 0 && messages.firstAdded() - cutoff < 0) {
                freed += messages.removeFirst().length();
                removed++;
            }
            if (removed == 0) {
                return;
            }
            bytes -= freed;
            budget.track(this, messages.size() == 0);
        }
        budget.cachedChanged(-freed);
    }

    private void clearLocked() {
        messages.clear();
        bytes = 0;
    }

    /**
     * The messages overlapping {@code [from, to)}, or null when the window does not cover
     * {@code from} (the caller then reads the store).
     */
    List<StoredMessage> read(long from, long to, int maxBytes) {
        List<StoredMessage> out = new ArrayList<>();
        synchronized (this) {
            if (messages.size() == 0
                    || from < messages.get(0).position()
                    || messages.last().end() < to) {
                return null;
            }
            long taken = 0;
            for (int i = messages.holding(from); i < messages.size(); i++) {
                StoredMessage m = messages.get(i);
                if (m.position() >= to || taken >= maxBytes) {
                    break;
                }
                out.add(m);
                taken += m.length();
            }
        }
        lastUsed = budget.tick();
        return out;
    }

    /**
     * A growable ring of contiguous messages, oldest first, with when each was added. Not
     * thread-safe: the window's monitor guards it.
     */
    private static final class Ring {
        private StoredMessage[] slots = new StoredMessage[8];
        private long[] added = new long[8];
        private int head;
        private int size;

        int size() {
            return size;
        }

        StoredMessage get(int i) {
            return slots[(head + i) & (slots.length - 1)];
        }

        StoredMessage last() {
            return get(size - 1);
        }

        /** When the oldest message was added ({@link System#nanoTime}); the ring must not be empty. */
        long firstAdded() {
            return added[head];
        }

        void add(StoredMessage m, long now) {
            if (size == slots.length) {
                StoredMessage[] bigger = new StoredMessage[slots.length * 2];
                long[] times = new long[slots.length * 2];
                for (int i = 0; i < size; i++) {
                    bigger[i] = get(i);
                    times[i] = added[(head + i) & (slots.length - 1)];
                }
                slots = bigger;
                added = times;
                head = 0;
            }
            int at = (head + size) & (slots.length - 1);
            slots[at] = m;
            added[at] = now;
            size++;
        }

        StoredMessage removeFirst() {
            StoredMessage m = slots[head];
            slots[head] = null;
            head = (head + 1) & (slots.length - 1);
            size--;
            return m;
        }

        void clear() {
            slots = new StoredMessage[8];
            added = new long[8];
            head = 0;
            size = 0;
        }

        /** The index of the message holding {@code position}, which the ring covers. */
        int holding(long position) {
            int lo = 0;
            int hi = size - 1;
            while (lo < hi) {
                int mid = (lo + hi + 1) >>> 1;
                if (get(mid).position() <= position) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            return lo;
        }
    }
}
