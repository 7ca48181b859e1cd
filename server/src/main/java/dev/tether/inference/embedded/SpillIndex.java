package dev.tether.inference.embedded;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the spill directory holds: each file's size and when it was last written, oldest first. It decides which files go when the directory is over its disk
 * budget or a file has been idle for longer than the TTL; the caller deletes them.
 *
 * <p>Not thread-safe; confined to the engine thread, except {@link #bytes()} and
 * {@link #files()}, which any thread may read.
 */
final class SpillIndex {
    private record Entry(long bytes, Instant lastUsed) {}

    /** Insertion order is write order: the eldest entry is the least recently written. */
    private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();

    private final AtomicLong bytes = new AtomicLong();
    private volatile int files;

    /** File {@code name} ({@code size} bytes) was written at {@code at}: it becomes the newest. */
    void used(String name, long size, Instant at) {
        Entry old = entries.remove(name);
        if (old != null) bytes.addAndGet(-old.bytes);
        entries.put(name, new Entry(size, at));
        bytes.addAndGet(size);
        files = entries.size();
    }

    void removed(String name) {
        Entry old = entries.remove(name);
        if (old != null) bytes.addAndGet(-old.bytes);
        files = entries.size();
    }

    /** The least recently written files to delete so the rest fit in {@code budget} bytes. */
    List<String> overBudget(long budget) {
        List<String> out = new ArrayList<>();
        long total = bytes.get();
        for (Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator(); it.hasNext() && total > budget; ) {
            Map.Entry<String, Entry> e = it.next();
            out.add(e.getKey());
            total -= e.getValue().bytes;
        }
        return out;
    }

    /** Files last written before {@code cutoff}. */
    List<String> unusedSince(Instant cutoff) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            if (!e.getValue().lastUsed.isBefore(cutoff)) break; // write order: the rest are newer
            out.add(e.getKey());
        }
        return out;
    }

    /** Bytes of all indexed files. Thread-safe. */
    long bytes() {
        return bytes.get();
    }

    /** Number of indexed files. Thread-safe. */
    int files() {
        return files;
    }
}
