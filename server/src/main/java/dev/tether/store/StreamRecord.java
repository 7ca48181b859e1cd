package dev.tether.store;

import java.util.Objects;

/**
 * The persisted metadata of one stream: an immutable snapshot. The stream's bytes live in
 * {@link StoredMessage} rows; positions are byte counts in the stream's logical byte space,
 * which a fork shares with its source (Durable Streams §4.2: no offset translation).
 *
 * @param id              store-wide id, never reused (a path can be deleted and re-created)
 * @param path            the stream's URL path below the stream root
 * @param contentType     fixed at creation, lower-cased media type with parameters as sent
 * @param ttlSeconds      sliding TTL, or null
 * @param expiresAtMillis absolute expiry (epoch millis), or null
 * @param createdAtMillis creation time (epoch millis)
 * @param lastAccessMillis last read or write that renews the TTL (persisted lazily)
 * @param tail            the next position to be written (the stream's "next offset")
 * @param retainedFrom    the lowest readable position; reads below it get 410
 * @param closed          whether the stream is closed (EOF)
 * @param closedBy        the producer request that closed it with an append, or null
 * @param lastStreamSeq   the last accepted {@code Stream-Seq} value, or null
 * @param forkSourceId    the stream this one was forked from, or null
 * @param forkPosition    positions below this are read from the fork source
 * @param lifecycle       live, soft-deleted (path reserved) or detached (path released)
 */
public record StreamRecord(
        long id,
        String path,
        String contentType,
        Long ttlSeconds,
        Long expiresAtMillis,
        long createdAtMillis,
        long lastAccessMillis,
        long tail,
        long retainedFrom,
        boolean closed,
        ProducerTuple closedBy,
        String lastStreamSeq,
        Long forkSourceId,
        long forkPosition,
        Lifecycle lifecycle) {

    public StreamRecord {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(contentType, "contentType");
        Objects.requireNonNull(lifecycle, "lifecycle");
        if (tail < 0 || retainedFrom < 0 || retainedFrom > tail) {
            throw new IllegalArgumentException("bad positions: retainedFrom=" + retainedFrom + " tail=" + tail);
        }
        if (forkSourceId == null && forkPosition != 0) {
            throw new IllegalArgumentException("forkPosition without a fork source");
        }
    }

    /** Where a stream is in its life. */
    public enum Lifecycle {
        /** Readable and writable at its path. */
        LIVE,
        /** Deleted while forks still read from it: its path answers 410 and cannot be re-created. */
        SOFT_DELETED,
        /** Expired while forks still read from it: its path is free again; kept only for the forks. */
        DETACHED
    }

    /** The identity of one producer request: Kafka-style (id, epoch, seq). */
    public record ProducerTuple(String producerId, long epoch, long seq) {
        public ProducerTuple {
            Objects.requireNonNull(producerId, "producerId");
        }
    }

    public boolean isFork() {
        return forkSourceId != null;
    }

    /**
     * Whether it reads its bytes below its fork point from its fork source: a fork that retention
     * has not trimmed past that point. One that has no longer holds its source (§4.2's reference
     * counting), so a deleted or expired source can go.
     */
    public boolean readsForkSource() {
        return forkSourceId != null && retainedFrom <= forkPosition;
    }

    public StreamRecord withTail(long newTail) {
        return new StreamRecord(
                id,
                path,
                contentType,
                ttlSeconds,
                expiresAtMillis,
                createdAtMillis,
                lastAccessMillis,
                newTail,
                retainedFrom,
                closed,
                closedBy,
                lastStreamSeq,
                forkSourceId,
                forkPosition,
                lifecycle);
    }

    public StreamRecord withClosed(ProducerTuple closer) {
        return new StreamRecord(
                id,
                path,
                contentType,
                ttlSeconds,
                expiresAtMillis,
                createdAtMillis,
                lastAccessMillis,
                tail,
                retainedFrom,
                true,
                closer,
                lastStreamSeq,
                forkSourceId,
                forkPosition,
                lifecycle);
    }

    public StreamRecord withLastStreamSeq(String seq) {
        return new StreamRecord(
                id,
                path,
                contentType,
                ttlSeconds,
                expiresAtMillis,
                createdAtMillis,
                lastAccessMillis,
                tail,
                retainedFrom,
                closed,
                closedBy,
                seq,
                forkSourceId,
                forkPosition,
                lifecycle);
    }

    public StreamRecord withLastAccess(long millis) {
        return new StreamRecord(
                id,
                path,
                contentType,
                ttlSeconds,
                expiresAtMillis,
                createdAtMillis,
                millis,
                tail,
                retainedFrom,
                closed,
                closedBy,
                lastStreamSeq,
                forkSourceId,
                forkPosition,
                lifecycle);
    }

    public StreamRecord withRetainedFrom(long position) {
        return new StreamRecord(
                id,
                path,
                contentType,
                ttlSeconds,
                expiresAtMillis,
                createdAtMillis,
                lastAccessMillis,
                tail,
                position,
                closed,
                closedBy,
                lastStreamSeq,
                forkSourceId,
                forkPosition,
                lifecycle);
    }

    public StreamRecord withLifecycle(Lifecycle next) {
        return new StreamRecord(
                id,
                path,
                contentType,
                ttlSeconds,
                expiresAtMillis,
                createdAtMillis,
                lastAccessMillis,
                tail,
                retainedFrom,
                closed,
                closedBy,
                lastStreamSeq,
                forkSourceId,
                forkPosition,
                next);
    }
}
