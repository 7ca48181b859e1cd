package dev.tether.stream;

import dev.tether.store.ProducerRecord;
import dev.tether.store.StoreContents;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.Lifecycle;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every stream the engine knows, by path (live and soft-deleted ones: the path is taken) and
 * by id (also detached ones kept for their forks).
 *
 * <p>Thread-safety: lookups from any thread; changes from the writer thread, through
 * {@link WriteBatch#publish}, and in cluster mode also through {@link #adopt} and
 * {@link #unmapPath} from any thread (records only move forward, see {@link StreamState#advance}).
 */
final class StreamRegistry {
    private final Map<String, StreamState> byPath = new ConcurrentHashMap<>();
    private final Map<Long, StreamState> byId = new ConcurrentHashMap<>();
    private final int recentWindowBytes;
    private final MemoryBudget memory;
    private volatile long scopedOffsetsFromId;

    StreamRegistry(int recentWindowBytes, MemoryBudget memory) {
        this.recentWindowBytes = recentWindowBytes;
        this.memory = memory;
    }

    MemoryBudget memory() {
        return memory;
    }

    /** Streams below this id may hold unscoped offsets; see {@link StreamReader#positionOf}. */
    long scopedOffsetsFromId() {
        return scopedOffsetsFromId;
    }

    /** Fills the registry from the store; {@code now} floors last-access times (see below). */
    void load(StoreContents contents, long now) {
        scopedOffsetsFromId = contents.scopedOffsetsFromId();
        for (StreamRecord r : contents.streams()) {
            // Reads renew TTLs in memory only; after a restart we cannot know the last read,
            // so a stream gets a full TTL from startup rather than being expired early.
            StreamState s = new StreamState(r, recentWindowBytes, memory);
            s.renew(now);
            byId.put(r.id(), s);
            if (r.lifecycle() != Lifecycle.DETACHED) {
                byPath.put(r.path(), s);
            }
        }
        for (StreamRecord r : contents.streams()) {
            if (r.readsForkSource()) {
                StreamState source = byId.get(r.forkSourceId());
                if (source != null) {
                    source.forkRefs++;
                }
            }
        }
        for (ProducerRecord p : contents.producers()) {
            StreamState s = byId.get(p.streamId());
            if (s != null) {
                s.putProducer(p, memory);
            }
        }
    }

    StreamState byPath(String path) {
        return byPath.get(path);
    }

    StreamState byId(long id) {
        return byId.get(id);
    }

    Collection<StreamState> all() {
        return byId.values();
    }

    int size() {
        return byPath.size();
    }

    StreamState create(StreamRecord r) {
        StreamState s = new StreamState(r, recentWindowBytes, memory);
        byId.put(r.id(), s);
        return s;
    }

    void mapPath(String path, StreamState state) {
        if (state == null) {
            byPath.remove(path);
        } else {
            byPath.put(path, state);
        }
    }

    /**
     * Cluster mode: takes a record read from the shared store, creating the stream's state when
     * this node has not seen it, and wakes its readers when it moved.
     */
    StreamState adopt(StreamRecord r) {
        StreamState s = byId.computeIfAbsent(r.id(), id -> new StreamState(r, recentWindowBytes, memory));
        boolean moved = s.advance(r);
        if (s.record.lifecycle() == Lifecycle.DETACHED) {
            byPath.remove(r.path(), s);
        } else {
            StreamState before = byPath.put(r.path(), s);
            if (before != null && before != s) {
                before.watchers.fire(); // the stream its readers follow is no longer at this path
            }
        }
        if (moved) {
            s.watchers.fire();
        }
        return s;
    }

    /** Cluster mode: no stream holds {@code path} in the shared store any more. */
    void unmapPath(String path) {
        StreamState s = byPath.remove(path);
        if (s != null) {
            s.watchers.fire();
        }
    }

    /** Cluster mode: {@code s} is gone from the shared store; its readers look again. */
    void unmap(StreamState s) {
        byPath.remove(s.record.path(), s);
        s.watchers.fire();
    }

    StreamState remove(long id) {
        return byId.remove(id);
    }
}
