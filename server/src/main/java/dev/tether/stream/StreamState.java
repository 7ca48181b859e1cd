package dev.tether.stream;

import dev.tether.store.ProducerRecord;
import dev.tether.store.StreamRecord;
import java.util.HashMap;
import java.util.Map;

/**
 * The engine's in-memory state of one stream.
 *
 * <p>Thread-safety: {@link #record} and {@link #lastAccess} are published by the writer thread
 * (volatile) and read by any thread. {@link #producers} and {@link #forkRefs} are confined to
 * the writer thread. {@link #watchers} and {@link #recent} are thread-safe.
 */
final class StreamState {
    volatile StreamRecord record;
    /** The latest TTL-renewing access; reads renew it without a store write. */
    volatile long lastAccess;

    final Map<String, ProducerRecord> producers = new HashMap<>();
    int forkRefs;
    final TailWatchers watchers = new TailWatchers();
    final RecentWindow recent;

    StreamState(StreamRecord record, int recentWindowBytes) {
        this.record = record;
        this.lastAccess = record.lastAccessMillis();
        this.recent = new RecentWindow(recentWindowBytes);
    }

    /** The effective last access, whether it came from a write (persisted) or a read (memory). */
    long effectiveLastAccess() {
        return Math.max(lastAccess, record.lastAccessMillis());
    }

    void renew(long now) {
        if (now > lastAccess) {
            lastAccess = now;
        }
    }

    /** Expired streams behave as if they did not exist (Durable Streams §5.1). */
    boolean expired(long now) {
        StreamRecord r = record;
        return expired(r, Math.max(lastAccess, r.lastAccessMillis()), now);
    }

    static boolean expired(StreamRecord r, long lastAccess, long now) {
        if (r.expiresAtMillis() != null && now >= r.expiresAtMillis()) {
            return true;
        }
        return r.ttlSeconds() != null && now >= lastAccess + r.ttlSeconds() * 1000L;
    }
}
