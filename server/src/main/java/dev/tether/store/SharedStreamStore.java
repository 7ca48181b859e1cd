package dev.tether.store;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A store several nodes write at once (cluster mode). Each node's engine keeps a cache of what it
 * has seen; the store is the truth: writes carry {@link Precondition}s and lose with a
 * {@link CommitResult.Conflict} when another node changed what they were decided on, lookups read
 * the stream here first, ids come from one counter, TTL renewals are shared, and {@link #onChange}
 * wakes the nodes whose readers wait on a stream another node appended to.
 *
 * <p>Thread-safety: every method may be called from any thread.
 */
public interface SharedStreamStore extends StreamStore {

    /**
     * The streams holding these paths (live or soft-deleted) as stored now, by path; a path no
     * stream holds is absent.
     *
     * @param withProducers also load producer state (the writer needs it; readers do not)
     */
    Map<String, StoredStream> streams(Collection<String> paths, boolean withProducers) throws StoreException;

    /**
     * The streams with these ids in any lifecycle, without producer state, by id, read together (a
     * sweep checks every stream it would expire in one round trip, or one per thousand streams in
     * Redis); an id no stream has is absent.
     */
    Map<Long, StoredStream> streamsById(Collection<Long> ids) throws StoreException;

    /** The stream with this id in any lifecycle, without producer state, or null. */
    default StoredStream stream(long id) throws StoreException {
        return streamsById(List.of(id)).get(id);
    }

    /** The current records of these streams; the ids of streams that are gone are absent. */
    Map<Long, StreamRecord> records(Collection<Long> ids) throws StoreException;

    /** A stream id no node has used, at least {@code atLeast}. */
    long allocateId(long atLeast) throws StoreException;

    /** The highest stream id any node allocated (0: none). */
    long maxId() throws StoreException;

    /** Records a TTL-renewing access that every node sees (never moves one back). */
    void renew(long streamId, long atMillis) throws StoreException;

    /**
     * Calls {@code listener} with what each commit of any node changed, soon after the commit is
     * durable. A wake-up, not the truth: a notification can be lost (a dropped connection), so a
     * listener that must not miss a change also polls {@link #records}. The listener must not
     * block.
     */
    void onChange(Consumer<List<Change>> listener);

    /**
     * Takes lease {@code name} for {@code ttlMillis} when no one holds it, recording {@code holder}
     * (what other nodes learn from {@link #leaseHolder}); returns this taking's token, or null when
     * another holds it.
     */
    String tryLease(String name, String holder, long ttlMillis) throws StoreException;

    /** Extends a lease taken with {@code token}; false when it lapsed or someone else holds it now. */
    boolean renewLease(String name, String token, long ttlMillis) throws StoreException;

    /** The holder recorded by whoever holds lease {@code name} now, or null. */
    String leaseHolder(String name) throws StoreException;

    /**
     * From now on, every commit of this node requires holding lease {@code name} with
     * {@code token}: a holder that lost its lease (paused past it, while another took over) can
     * write nothing more (a fencing token).
     */
    void fenceCommits(String name, String token);

    /** A stream a commit changed: its new record, or null when the commit removed it. */
    record Change(long streamId, StreamRecord record) {}
}
