package dev.tether.stream;

import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.Lifecycle;

/**
 * Expiry, deletion and fork reference counting, staged in a {@link WriteBatch}.
 * Durable Streams §4.2: a stream that forks still read from is kept (soft-deleted when
 * deleted, detached when expired) until its last fork goes away.
 */
final class Lifecycles {
    private Lifecycles() {}

    /**
     * The live-or-soft-deleted stream at {@code path}, expiring it first when its TTL or
     * expiry has passed (an expired stream behaves as if it did not exist).
     */
    static StreamRecord current(WriteBatch batch, String path) {
        StreamRecord r = batch.byPath(path);
        if (r != null && r.lifecycle() == Lifecycle.LIVE && batch.expired(r)) {
            expire(batch, r);
            return null;
        }
        return r;
    }

    static void expire(WriteBatch batch, StreamRecord r) {
        if (batch.forkRefs(r.id()) > 0) {
            batch.put(r.withLifecycle(Lifecycle.DETACHED));
        } else {
            dropAndRelease(batch, r);
        }
    }

    /** DELETE: soft-delete while forks read from the stream, else remove it. */
    static void delete(WriteBatch batch, StreamRecord r) {
        if (batch.forkRefs(r.id()) > 0) {
            batch.put(r.withLifecycle(Lifecycle.SOFT_DELETED));
        } else {
            dropAndRelease(batch, r);
        }
    }

    /** Removes a stream and releases its source, cascading up a chain of deleted sources. */
    private static void dropAndRelease(WriteBatch batch, StreamRecord r) {
        batch.drop(r);
        Long sourceId = r.forkSourceId();
        while (sourceId != null) {
            batch.addForkRef(sourceId, -1);
            StreamRecord source = batch.byId(sourceId);
            if (source == null || source.lifecycle() == Lifecycle.LIVE || batch.forkRefs(sourceId) > 0) {
                return;
            }
            batch.drop(source);
            sourceId = source.forkSourceId();
        }
    }
}
