package dev.tether.stream;

import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.Mutation;
import dev.tether.store.Precondition;
import dev.tether.store.ProducerRecord;
import dev.tether.store.SharedStreamStore;
import dev.tether.store.StoreContents;
import dev.tether.store.StoredMessage;
import dev.tether.store.StoredStream;
import dev.tether.store.StreamRecord;
import dev.tether.store.memory.MemoryStreamStore;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A {@link SharedStreamStore} in memory for tests that run several engines (nodes) on one store
 * without Redis: the memory store under one lock, lookups answered from its full contents, and a
 * change feed that can be told to lose its notifications. Each engine gets its own view
 * ({@link #node()}), since an engine closes its store.
 */
public final class SharedMemoryStore {
    private final MemoryStreamStore store = new MemoryStreamStore();
    private final Map<Long, Long> renewals = new ConcurrentHashMap<>();
    private final List<Consumer<List<SharedStreamStore.Change>>> listeners = new CopyOnWriteArrayList<>();
    private long maxId;
    volatile boolean loseNotifications;
    /** Runs once, just before the next commit of any node reaches the store (to interleave another node's step). */
    final java.util.concurrent.atomic.AtomicReference<Runnable> beforeNextCommit =
            new java.util.concurrent.atomic.AtomicReference<>();
    /** How many ids each call of streamsById asked for (a call is one round trip in Redis). */
    final List<Integer> byIdReads = new java.util.concurrent.CopyOnWriteArrayList<>();

    private final Map<String, String> leases = new ConcurrentHashMap<>();

    /** Every lease lapses at once, as when their holders were paused past them. */
    public void lapseLeases() {
        leases.clear();
    }

    public SharedStreamStore node() {
        return new Node();
    }

    private synchronized StoreContents contents() {
        return store.load();
    }

    private StoredStream stored(StoreContents all, StreamRecord r, boolean withProducers) {
        int forks = (int) all.streams().stream()
                .filter(f -> Objects.equals(f.forkSourceId(), r.id()))
                .count();
        List<ProducerRecord> producers = withProducers
                ? all.producers().stream().filter(p -> p.streamId() == r.id()).toList()
                : List.of();
        return new StoredStream(r, producers, forks, renewals.getOrDefault(r.id(), 0L));
    }

    private final class Node implements SharedStreamStore {
        @Override
        public StoreContents load() {
            return contents();
        }

        @Override
        public CommitResult commit(Commit commit) {
            CommitResult result;
            List<Change> changes = new ArrayList<>();
            Runnable before = beforeNextCommit.getAndSet(null); // runs once, even with commits racing
            if (before != null) {
                before.run();
            }
            synchronized (SharedMemoryStore.this) {
                List<Precondition> renewed = commit.expect().stream()
                        .filter(p -> p instanceof Precondition.NotRenewedAfter n
                                && renewals.getOrDefault(n.streamId(), 0L) > n.atMillis())
                        .toList();
                result = renewed.isEmpty() ? store.commit(commit) : new CommitResult.Conflict(renewed);
                if (result instanceof CommitResult.Committed) {
                    Map<Long, StreamRecord> now = new HashMap<>();
                    store.load().streams().forEach(r -> now.put(r.id(), r));
                    for (Mutation m : commit.apply()) {
                        if (m instanceof Mutation.PutStream p) {
                            maxId = Math.max(maxId, p.record().id());
                            changes.add(new Change(
                                    p.record().id(), now.get(p.record().id())));
                        } else if (m instanceof Mutation.DropStream d) {
                            renewals.remove(d.streamId());
                            changes.add(new Change(d.streamId(), null));
                        }
                    }
                }
            }
            if (!loseNotifications && !changes.isEmpty()) {
                listeners.forEach(l -> l.accept(changes));
            }
            return result;
        }

        @Override
        public List<StoredMessage> read(long streamId, long from, long to, int maxBytes) {
            return store.read(streamId, from, to, maxBytes);
        }

        @Override
        public Map<String, StoredStream> streams(Collection<String> paths, boolean withProducers) {
            StoreContents all = contents();
            Map<String, StoredStream> out = new HashMap<>();
            for (StreamRecord r : all.streams()) {
                if (paths.contains(r.path()) && r.lifecycle() != StreamRecord.Lifecycle.DETACHED) {
                    out.put(r.path(), stored(all, r, withProducers));
                }
            }
            return out;
        }

        @Override
        public Map<Long, StoredStream> streamsById(Collection<Long> ids) {
            byIdReads.add(ids.size());
            StoreContents all = contents();
            Map<Long, StoredStream> out = new HashMap<>();
            for (StreamRecord r : all.streams()) {
                if (ids.contains(r.id())) {
                    out.put(r.id(), stored(all, r, false));
                }
            }
            return out;
        }

        @Override
        public Map<Long, StreamRecord> records(Collection<Long> ids) {
            Map<Long, StreamRecord> out = new HashMap<>();
            contents().streams().stream().filter(r -> ids.contains(r.id())).forEach(r -> out.put(r.id(), r));
            return out;
        }

        @Override
        public long allocateId(long atLeast) {
            synchronized (SharedMemoryStore.this) {
                maxId = Math.max(maxId + 1, atLeast);
                return maxId;
            }
        }

        @Override
        public long maxId() {
            synchronized (SharedMemoryStore.this) {
                return maxId;
            }
        }

        @Override
        public void renew(long streamId, long atMillis) {
            synchronized (SharedMemoryStore.this) {
                if (store.load().streams().stream().anyMatch(r -> r.id() == streamId)) {
                    renewals.merge(streamId, atMillis, Math::max);
                }
            }
        }

        @Override
        public String tryLease(String name, String holder, long ttlMillis) {
            String token = java.util.UUID.randomUUID().toString();
            return leases.putIfAbsent(name, token + " " + holder) == null ? token : null;
        }

        @Override
        public boolean renewLease(String name, String token, long ttlMillis) {
            String held = leases.get(name);
            return held != null && held.startsWith(token + " ");
        }

        @Override
        public String leaseHolder(String name) {
            String held = leases.get(name);
            return held == null ? null : held.substring(held.indexOf(' ') + 1);
        }

        @Override
        public void fenceCommits(String name, String token) {}

        @Override
        public void onChange(Consumer<List<Change>> listener) {
            listeners.add(listener);
        }

        @Override
        public String describe() {
            return "shared memory (test)";
        }

        @Override
        public String kind() {
            return "memory";
        }

        @Override
        public void close() {}
    }
}
