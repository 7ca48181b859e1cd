package dev.tether.stream;

import dev.tether.store.StoredMessage;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The most recent committed messages of one stream, bounded in bytes, so that live readers
 * (long-poll, SSE fan-out) are served from memory instead of the store.
 *
 * <p>Thread-safe: the writer appends after each commit; readers copy out under the monitor.
 */
final class RecentWindow {
    private final int capacityBytes;
    private final ArrayDeque<StoredMessage> messages = new ArrayDeque<>();
    private long bytes;
    /** The window is contiguous from here to the last message's end; -1 when empty. */
    private long start = -1;

    RecentWindow(int capacityBytes) {
        this.capacityBytes = capacityBytes;
    }

    synchronized void append(List<StoredMessage> committed) {
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
    }

    synchronized void clear() {
        clearLocked();
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
    synchronized List<StoredMessage> read(long from, long to, int maxBytes) {
        if (start < 0 || from < start || messages.peekLast().end() < to) {
            return null;
        }
        List<StoredMessage> out = new ArrayList<>();
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
        return out;
    }
}
