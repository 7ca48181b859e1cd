package dev.tether.stream;

import dev.tether.store.SharedStreamStore;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StoredStream;
import dev.tether.store.StreamRecord;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Cluster mode: keeps this node's {@link StreamRegistry} in step with a {@link SharedStreamStore}
 * that other nodes write too. The store is the truth and the registry a cache of it:
 * <ul>
 *   <li>a lookup reads the stream from the store first, so a read on this node sees every append
 *       another node acknowledged before it;
 *   <li>the writer decides a batch on this node's view of the streams it knows (reading the ones
 *       it does not, and always those it deletes, with producer state) and, after a
 *       {@link dev.tether.store.CommitResult.Conflict}, reads them all again and decides again;
 *   <li>the store's change feed wakes readers waiting here on streams other nodes appended to; a
 *       poll of the watched streams every second covers a lost notification (it delays, never
 *       loses);
 *   <li>ids come from the store's counter, and TTL renewals go to the store before the read that
 *       renewed is answered.
 * </ul>
 *
 * <p>Thread-safety: {@link #lookup}, {@link #renew} and {@link #maxId} from any thread;
 * {@link #beforeStage}, {@link #allocateId} and {@link #refreshExpiring} from the writer thread
 * only (they touch writer-confined producer state and fork counts); change notifications on the
 * sync thread.
 */
final class RegistrySync implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(RegistrySync.class.getName());
    static final long POLL_MILLIS = 1000;
    /** The most one catch-up reads into a window; further behind, its readers read the store. */
    static final int CATCH_UP_MAX_BYTES = 1 << 20;

    private final SharedStreamStore store;
    private final StreamRegistry registry;
    private final InstantSource clock;
    private final long idFloor;
    private final int windowBytes;
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "tether-cluster-sync");
        t.setDaemon(true);
        return t;
    });

    RegistrySync(SharedStreamStore store, StreamRegistry registry, InstantSource clock, int windowBytes) {
        this.store = store;
        this.windowBytes = windowBytes;
        this.registry = registry;
        this.clock = clock;
        // As for one node: a new store's ids start from the clock, so no offset a client kept from
        // an earlier store names a stream of this one.
        this.idFloor = clock.millis() * 1000;
    }

    void start() {
        store.onChange(changes -> {
            try {
                thread.execute(() -> changed(changes));
            } catch (RejectedExecutionException e) {
                // closing
            }
        });
        thread.scheduleWithFixedDelay(this::poll, POLL_MILLIS, POLL_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** The stream at {@code path} as the store holds it now, adopted into the registry; null when none. */
    StreamState lookup(String path) throws StoreException {
        StoredStream stored = store.streams(List.of(path), false).get(path);
        if (stored == null) {
            registry.unmapPath(path);
            return null;
        }
        return adopt(stored, false);
    }

    /** Adopts every stream the store holds (a listing; expensive, for start-up and owner changes). */
    void adoptAll() throws StoreException {
        for (StreamRecord r : store.load().streams()) {
            registry.adopt(r);
        }
    }

    /**
     * Writer thread: refreshes the streams the commands name, with producer state, in one store
     * read; when {@code optimistic} (a batch's first attempt), appends only to streams this node
     * has not seen, trusting its view of the others: the commit's preconditions catch a stale one, and the
     * retry refreshes everything. One round trip to the store per batch instead of two when this
     * node's view is current (a stream written through one node, or kept fresh by the change feed).
     */
    void beforeStage(List<WriteCommand> commands, boolean optimistic) throws StoreException {
        Set<String> paths = new LinkedHashSet<>();
        boolean sweep = false;
        for (WriteCommand c : commands) {
            switch (c) {
                case WriteCommand.Create create -> {
                    paths.add(create.request().path());
                    if (create.request().fork() != null) {
                        paths.add(create.request().fork().sourcePath());
                    }
                }
                case WriteCommand.Append append -> {
                    if (!optimistic || registry.byPath(append.request().path()) == null) {
                        paths.add(append.request().path());
                    }
                }
                // Deleting decides on the fork count, which no precondition covers: always fresh.
                case WriteCommand.Delete delete -> paths.add(delete.path());
                case WriteCommand.Sweep s -> sweep = true;
            }
        }
        if (!paths.isEmpty()) {
            Map<String, StoredStream> stored = store.streams(paths, true);
            for (String path : paths) {
                StoredStream s = stored.get(path);
                if (s == null) {
                    registry.unmapPath(path);
                } else {
                    adopt(s, true);
                }
            }
        }
        if (sweep) {
            refreshExpiring();
        }
    }

    /**
     * Writer thread: before a sweep expires anything, reads the streams that look expired here
     * again, since another node may have renewed, changed or removed them.
     */
    private void refreshExpiring() throws StoreException {
        long now = clock.millis();
        List<StreamState> expiring = new ArrayList<>();
        for (StreamState s : registry.all()) {
            if (s.expired(now)) {
                expiring.add(s);
            }
        }
        if (expiring.isEmpty()) {
            return;
        }
        Map<Long, StoredStream> stored =
                store.streamsById(expiring.stream().map(s -> s.record.id()).toList()); // one round trip for them all
        for (StreamState s : expiring) {
            StoredStream fresh = stored.get(s.record.id());
            if (fresh == null) {
                forget(s);
            } else {
                adopt(fresh, true);
            }
        }
    }

    /** Writer thread: a stream the store no longer has leaves the registry. */
    private void forget(StreamState s) {
        registry.unmap(s);
        StreamState removed = registry.remove(s.record.id());
        if (removed != null) {
            removed.release(registry.memory());
            removed.watchers.fire();
        }
    }

    private StreamState adopt(StoredStream stored, boolean writer) throws StoreException {
        StreamState s = registry.adopt(stored.record());
        s.renew(stored.renewedAtMillis());
        if (writer) {
            s.adoptProducers(stored.producers(), registry.memory());
            s.forkRefs = stored.forkRefs();
        }
        // A fork reads its inherited bytes through its sources: this node must know them too.
        Long source = stored.record().forkSourceId();
        while (source != null) {
            StreamState known = registry.byId(source);
            if (known != null && !writer) {
                return s;
            }
            StoredStream up = store.stream(source);
            if (up == null) {
                return s;
            }
            StreamState adopted = registry.adopt(up.record());
            if (writer) {
                adopted.forkRefs = up.forkRefs();
            }
            source = up.record().forkSourceId();
        }
        return s;
    }

    /** Writer thread: an id for a new stream, unique across nodes. */
    long allocateId() throws StoreException {
        return store.allocateId(idFloor);
    }

    /** The highest id any node allocated: tells a never-issued offset from another node's. */
    long maxId() throws StoreException {
        return store.maxId();
    }

    /**
     * Shares a TTL-renewing access with the other nodes before the request that made it is
     * answered, so that the next request, on any node, sees the stream renewed. Every time: a
     * renewal skipped to save a round trip would let another node expire the stream early.
     */
    void renew(StreamState s, long now) {
        if (s.record.ttlSeconds() == null) {
            return;
        }
        try {
            store.renew(s.record.id(), now);
        } catch (StoreException e) {
            LOG.log(System.Logger.Level.WARNING, "sharing a TTL renewal failed: " + e.getMessage());
        }
    }

    private void changed(List<SharedStreamStore.Change> changes) {
        for (SharedStreamStore.Change c : changes) {
            StreamState s = registry.byId(c.streamId());
            if (s == null) {
                continue; // never looked up here: nobody on this node waits on it
            }
            if (c.record() != null) {
                catchUp(s, c.record());
                registry.adopt(c.record());
            } else {
                registry.unmap(s);
            }
        }
    }

    /**
     * Before waking the readers of a stream another node appended to, reads the new messages once
     * into its recent window, so that its readers here (an SSE fan-out) are served from memory
     * rather than each reading the store. It reads all of them, up to {@link #CATCH_UP_MAX_BYTES}
     * or a window if larger, not only a window's worth: the window keeps the newest, and a window that stopped short of the
     * tail would serve no reader and start the next catch-up behind it again.
     */
    void catchUp(StreamState s, StreamRecord next) {
        long end = s.recent.end();
        // From the window's end when it lags (a lookup moved the record on without filling it), so
        // that the window catches up and stays in use, rather than every reader reading the store.
        long from = end >= 0 && end <= s.record.tail() ? end : s.record.tail();
        if (next.id() != s.record.id() || next.tail() <= from || s.watchers.isEmpty()) {
            return;
        }
        try {
            int max = (int) Math.max(windowBytes, Math.min(CATCH_UP_MAX_BYTES, next.tail() - from));
            List<StoredMessage> rows = store.read(next.id(), from, next.tail(), max);
            if (!rows.isEmpty() && rows.get(0).position() == from) {
                s.recent.append(rows);
            }
        } catch (StoreException e) {
            // its readers read the store themselves
        }
    }

    /** The backup for lost notifications: re-reads the streams someone on this node waits on. */
    private void poll() {
        List<Long> watched = new ArrayList<>();
        for (StreamState s : registry.all()) {
            if (!s.watchers.isEmpty()) {
                watched.add(s.record.id());
            }
        }
        if (watched.isEmpty()) {
            return;
        }
        try {
            Map<Long, StreamRecord> now = store.records(watched);
            for (long id : watched) {
                StreamRecord r = now.get(id);
                StreamState s = registry.byId(id);
                if (r != null) {
                    if (s != null) {
                        catchUp(s, r);
                    }
                    registry.adopt(r);
                } else if (s != null) {
                    registry.unmap(s);
                }
            }
        } catch (StoreException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "polling the shared store for watched streams failed: " + e);
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
