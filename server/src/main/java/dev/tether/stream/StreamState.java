package dev.tether.stream;

import dev.tether.store.ProducerRecord;
import dev.tether.store.StreamRecord;
import java.util.HashMap;
import java.util.Map;

/**
 * The engine's in-memory state of one stream.
 *
 * <p>Thread-safety: {@link #record} and {@link #lastAccess} are published by the writer thread
 * (volatile), and in cluster mode also by readers that looked the stream up in the shared store,
 * through {@link #advance}, which never moves a record back; any thread reads them.
 * {@link #producers} and {@link #forkRefs} are confined to the writer thread. {@link #watchers} and {@link #recent} are thread-safe.
 */
final class StreamState {
    volatile StreamRecord record;
    /** The latest TTL-renewing access; reads renew it without a store write. */
    volatile long lastAccess;

    final Map<String, ProducerRecord> producers = new HashMap<>();
    /** What {@link #producers} count against the memory budget. */
    private long producerBytes;

    int forkRefs;

    final TailWatchers watchers = new TailWatchers();
    final RecentWindow recent;

    StreamState(StreamRecord record, int recentWindowBytes, MemoryBudget budget) {
        this.record = record;
        this.lastAccess = record.lastAccessMillis();
        this.recent = new RecentWindow(recentWindowBytes, budget);
    }

    /**
     * An estimate of the heap one producer entry holds: the id's characters, the record, the map
     * entry. Producer ids are capped in length at the API, so this stays small per entry.
     */
    static long producerCost(String producerId) {
        return 128 + 2L * producerId.length();
    }

    /** Adds or updates producers; new ones are charged to the budget (they are already committed). */
    void putProducer(ProducerRecord p, MemoryBudget budget) {
        if (producers.put(p.producerId(), p) == null) {
            long cost = producerCost(p.producerId());
            producerBytes += cost;
            budget.charge(cost);
        }
    }

    /**
     * Takes {@code r} as the stream's record unless it is older than the current one (a lookup
     * that read the store before a commit this node has already published). Positions, closing and
     * the lifecycle only ever move forward, which is what "older" is judged by.
     *
     * @return whether readers waiting on the stream should look again (tail, closing or lifecycle moved)
     */
    synchronized boolean advance(StreamRecord r) {
        StreamRecord now = record;
        if (r.equals(now)
                || r.tail() < now.tail()
                || r.retainedFrom() < now.retainedFrom()
                || (now.closed() && !r.closed())
                || r.lifecycle().ordinal() < now.lifecycle().ordinal()) {
            return false;
        }
        if (r.retainedFrom() > now.retainedFrom()) {
            recent.clear();
        }
        record = r;
        return r.tail() != now.tail() || r.closed() != now.closed() || r.lifecycle() != now.lifecycle();
    }

    /**
     * Takes the producer state the shared store holds (writer thread only). Producers are only ever
     * added or moved forward, never removed short of dropping the stream, so this adds or updates.
     */
    void adoptProducers(java.util.List<ProducerRecord> stored, MemoryBudget budget) {
        for (ProducerRecord p : stored) {
            putProducer(p, budget);
        }
    }

    /** The stream is gone: gives back its producers' and window's memory. */
    void release(MemoryBudget budget) {
        recent.clear();
        budget.release(producerBytes);
        producerBytes = 0;
        producers.clear();
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
        return pastExpiresAt(r, now) || r.ttlSeconds() != null && now >= lastAccess + r.ttlSeconds() * 1000L;
    }

    /** Past its absolute {@code Stream-Expires-At}, which no read renews. */
    static boolean pastExpiresAt(StreamRecord r, long now) {
        return r.expiresAtMillis() != null && now >= r.expiresAtMillis();
    }
}
