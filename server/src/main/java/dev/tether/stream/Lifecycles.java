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

    /**
     * Retention trimmed {@code fork} (as it was before the trim) past its fork point: it no longer
     * reads from its source, so it lets the source go (see {@link StreamRecord#readsForkSource}).
     */
    static void trimmedPastForkPoint(WriteBatch batch, StreamRecord fork) {
        release(batch, fork.forkSourceId());
    }

    /** Removes a stream and releases the source it reads from, if any. */
    private static void dropAndRelease(WriteBatch batch, StreamRecord r) {
        batch.drop(r);
        if (r.readsForkSource()) {
            release(batch, r.forkSourceId());
        }
    }

    /** One reader fewer for {@code sourceId}, cascading up a chain of deleted or expired sources. */
    private static void release(WriteBatch batch, long sourceId) {
        Long id = sourceId;
        while (id != null) {
            batch.addForkRef(id, -1);
            StreamRecord source = batch.byId(id);
            if (source == null || source.lifecycle() == Lifecycle.LIVE || batch.forkRefs(id) > 0) {
                return;
            }
            batch.drop(source);
            id = source.readsForkSource() ? source.forkSourceId() : null;
        }
    }
}
