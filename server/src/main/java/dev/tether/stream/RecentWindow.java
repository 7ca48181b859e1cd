package dev.tether.stream;

import dev.tether.store.StoredMessage;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The most recent committed messages of one stream, bounded in bytes, so that live readers
 * (long-poll, SSE fan-out) are served from memory instead of the store. It keeps at least the
 * newest message, whatever its size, unless the {@link MemoryBudget} needs the room: windows are
 * a cache, emptied least recently used first, and a reader that misses reads the store.
 *
 * <p>Thread-safe: the writer appends after each commit; readers copy out under the monitor; the
 * budget may empty it from any thread. Size changes are reported to the budget after the monitor
 * is released.
 */
final class RecentWindow {
    private final int capacityBytes;
    private final MemoryBudget budget;
    private final ArrayDeque<StoredMessage> messages = new ArrayDeque<>();
    private long bytes;
    /** The window is contiguous from here to the last message's end; -1 when empty. */
    private long start = -1;

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
        synchronized (this) {
            long before = bytes;
            for (StoredMessage m : committed) {
                if (!messages.isEmpty() && messages.peekLast().end() != m.position()) {
                    clearLocked();
                }
                if (messages.isEmpty()) {
                    start = m.position();
                }
                messages.addLast(m);
                bytes += m.data().length;
            }
            while (bytes > capacityBytes && messages.size() > 1) {
                StoredMessage dropped = messages.removeFirst();
                bytes -= dropped.data().length;
                start = messages.peekFirst().position();
            }
            delta = bytes - before;
            budget.track(this, messages.isEmpty());
        }
        lastUsed = budget.tick();
        budget.cachedChanged(delta);
    }

    /** Where the window's last message ends, or -1 when it is empty. */
    synchronized long end() {
        return messages.isEmpty() ? -1 : messages.peekLast().end();
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

    private void clearLocked() {
        messages.clear();
        bytes = 0;
        start = -1;
    }

    /**
     * The messages overlapping {@code [from, to)}, or null when the window does not cover
     * {@code from} (the caller then reads the store).
     */
    List<StoredMessage> read(long from, long to, int maxBytes) {
        List<StoredMessage> out = new ArrayList<>();
        synchronized (this) {
            if (start < 0 || from < start || messages.peekLast().end() < to) {
                return null;
            }
            long taken = 0;
            for (StoredMessage m : messages) {
                if (m.end() <= from) {
                    continue;
                }
                if (m.position() >= to || taken >= maxBytes) {
                    break;
                }
                out.add(m);
                taken += m.data().length;
            }
        }
        lastUsed = budget.tick();
        return out;
    }
}
