package dev.tether.stream;

import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.Lifecycle;
import dev.tether.store.StreamStore;
import java.util.Collection;
import java.util.List;

/**
 * Size-based retention: keeps at most {@code maxBytes} of each stream's own data, dropping the
 * oldest whole messages (so the new start is always a message boundary, valid in JSON mode).
 * Reads below the new start get 410 Gone (Durable Streams §4). A fork's inherited range follows
 * its source's retention.
 *
 * <p>Runs in the writer's periodic sweep, on the writer thread.
 */
final class Retention {
    /**
     * Logs kept whole whatever the limit: a session's log starts with the entry that says what the
     * session is, and is what the session is rebuilt from; its size is bounded by its ttl and by
     * deleting it, and late joiners read a snapshot instead of the whole log.
     */
    private static final String[] KEPT_WHOLE = {"sessions/"};

    private final StreamStore store;
    private final long maxBytes;

    Retention(StreamStore store, long maxBytes) {
        this.store = store;
        this.maxBytes = maxBytes;
    }

    private static boolean keptWhole(String path) {
        for (String prefix : KEPT_WHOLE) {
            if (path.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    /** Stages trims for every live stream over the budget; returns how many were trimmed. */
    int apply(WriteBatch batch, Collection<StreamState> streams) throws StoreException {
        if (maxBytes == 0) {
            return 0;
        }
        int trimmed = 0;
        for (StreamState s : streams) {
            StreamRecord r = batch.byId(s.record.id());
            if (r == null || r.lifecycle() != Lifecycle.LIVE) {
                continue; // deleted streams are kept whole for their forks
            }
            if (keptWhole(r.path())) {
                continue;
            }
            long ownStart = Math.max(r.retainedFrom(), r.isFork() ? r.forkPosition() : 0);
            if (r.tail() - ownStart <= maxBytes) {
                continue;
            }
            long target = r.tail() - maxBytes;
            List<StoredMessage> first = store.read(r.id(), target, r.tail(), 1);
            if (first.isEmpty()) {
                continue;
            }
            StoredMessage m = first.get(0);
            long boundary = m.position() >= target ? m.position() : m.end();
            if (boundary > r.retainedFrom()) {
                batch.trim(r.id(), boundary);
                StreamRecord after = r.withRetainedFrom(boundary);
                batch.put(after);
                if (r.readsForkSource() && !after.readsForkSource()) {
                    Lifecycles.trimmedPastForkPoint(batch, r);
                }
                trimmed++;
            }
        }
        return trimmed;
    }
}
