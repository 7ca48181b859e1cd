package dev.tether.stream;

import dev.tether.store.Mutation;
import dev.tether.store.Precondition;
import dev.tether.store.ProducerRecord;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.Lifecycle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The changes of one group commit, staged over the registry and over the batches committed
 * before it that are not durable yet (its parent chain): operations see every earlier effect,
 * readers see none of them until {@link #publish} runs once the store has made the batch
 * durable. If the commit fails the batch is simply dropped.
 *
 * <p>In cluster mode the batch also records what it decided on, as {@link Precondition}s the
 * shared store checks at commit (optimistic concurrency): the record of every stream it read by
 * path or changed, as it was before (or that no stream held the path of one it creates), and the
 * state of every producer it consulted. A refusal or a duplicate is checked as well as a write,
 * since it too may have been decided on a view another node has moved past.
 *
 * <p>Not thread-safe: confined to the writer thread.
 */
final class WriteBatch {
    private static final long REMOVED = -1;

    private final StreamRegistry registry;
    /** Cluster mode's link to the shared store, or null on one node. */
    private final RegistrySync sync;
    /** The previous batch while it is committed but not yet published, else null. */
    private WriteBatch parent;

    private boolean published;
    private final List<WriteCommand> commands = new ArrayList<>();
    private final long now;
    private final List<Mutation> mutations = new ArrayList<>();
    private final Map<Long, StreamRecord> records = new LinkedHashMap<>();
    private final Map<String, Long> pathIds = new HashMap<>();
    private final Map<Long, Map<String, ProducerRecord>> producers = new HashMap<>();
    private final Map<Long, Integer> forkRefDeltas = new HashMap<>();
    private final Set<Long> dropped = new HashSet<>();
    private final Map<Long, List<StoredMessage>> appended = new HashMap<>();
    private final List<Runnable> completions = new ArrayList<>();
    private final Map<Long, Precondition> expectedStreams = new LinkedHashMap<>();
    private final Set<String> expectedFreePaths = new LinkedHashSet<>();
    private final Map<String, Precondition> expectedProducers = new LinkedHashMap<>();
    private final Map<Long, Precondition> expectedRenewals = new LinkedHashMap<>();
    private long lastId;

    WriteBatch(StreamRegistry registry, RegistrySync sync, WriteBatch parent, long lastId, long now) {
        this.registry = registry;
        this.sync = sync;
        this.parent = parent;
        this.lastId = lastId;
        this.now = now;
    }

    long now() {
        return now;
    }

    MemoryBudget memory() {
        return registry.memory();
    }

    /** The unpublished batch this one stages over, or null once it has been published. */
    private WriteBatch base() {
        if (parent != null && parent.published) {
            parent = null;
        }
        return parent;
    }

    void addCommand(WriteCommand command) {
        commands.add(command);
    }

    List<WriteCommand> commands() {
        return commands;
    }

    long lastId() {
        return lastId;
    }

    long allocateId() throws StoreException {
        if (sync == null) {
            return ++lastId;
        }
        long id = sync.allocateId();
        lastId = Math.max(lastId, id);
        return id;
    }

    /** Cluster mode: what the batch was decided on, for the store to check at commit. */
    List<Precondition> preconditions() {
        List<Precondition> out = new ArrayList<>();
        expectedStreams.values().forEach(p -> {
            if (p != null) {
                out.add(p);
            }
        });
        expectedFreePaths.forEach(path -> out.add(new Precondition.PathFree(path)));
        out.addAll(expectedProducers.values());
        out.addAll(expectedRenewals.values());
        return out;
    }

    /**
     * Cluster mode: records that the batch's decision rests on {@code r}'s stream being as
     * committed before the batch (a stream it read by path, changed, dropped, or forks from), or,
     * for a stream the batch creates, on its path being free. Once per stream; nothing on one node.
     */
    void expectUnchanged(StreamRecord r) {
        if (sync == null || expectedStreams.containsKey(r.id())) {
            return;
        }
        StreamRecord before = base() != null ? base().byId(r.id()) : recordOf(registry.byId(r.id()));
        expectedStreams.put(r.id(), before == null ? null : new Precondition.StreamIs(before));
        if (before == null) {
            StreamRecord holder = base() != null ? base().byPath(r.path()) : recordOf(registry.byPath(r.path()));
            if (holder == null) {
                expectedFreePaths.add(r.path());
            } // else the batch changes the holder too (it expired), and that stream's precondition covers it
        }
    }

    List<Mutation> mutations() {
        return mutations;
    }

    boolean isEmpty() {
        return mutations.isEmpty();
    }

    /** Nothing to write and, in cluster mode, nothing decided on the store's state to check either. */
    boolean nothingToCommit() {
        return mutations.isEmpty() && preconditions().isEmpty();
    }

    /** The stream holding {@code path} (live or soft-deleted), or null. Does not check expiry. */
    StreamRecord byPath(String path) {
        Long id = pathIds.get(path);
        if (id != null) {
            return id == REMOVED ? null : byId(id);
        }
        StreamRecord below = base() != null ? base().byPath(path) : recordOf(registry.byPath(path));
        if (below != null) {
            expectUnchanged(below); // cluster mode: whatever is decided on it, it must still hold at commit
        }
        return below == null || dropped.contains(below.id()) ? null : byId(below.id());
    }

    private static StreamRecord recordOf(StreamState s) {
        return s == null ? null : s.record;
    }

    StreamRecord byId(long id) {
        if (dropped.contains(id)) {
            return null;
        }
        StreamRecord staged = records.get(id);
        if (staged != null) {
            return staged;
        }
        return base() != null ? base().byId(id) : recordOf(registry.byId(id));
    }

    /**
     * Whether the stream has expired, counting reads that renewed it in memory. In cluster mode a
     * yes on its TTL rests on no node having renewed it since this node last heard: a read on
     * another node may have renewed it after this node refreshed its view, and the store refuses
     * the batch then (the retry refreshes it first).
     */
    boolean expired(StreamRecord r) {
        long lastAccess = lastAccessOf(r);
        if (!StreamState.expired(r, lastAccess, now)) {
            return false;
        }
        if (sync != null && !StreamState.pastExpiresAt(r, now)) { // expired by its TTL, which a read renews
            expectedRenewals.put(r.id(), new Precondition.NotRenewedAfter(r.id(), lastAccess));
        }
        return true;
    }

    /** The last access to persist with a record, so read renewals survive a restart too. */
    long lastAccessOf(StreamRecord r) {
        StreamState s = registry.byId(r.id());
        return s == null ? r.lastAccessMillis() : Math.max(s.lastAccess, r.lastAccessMillis());
    }

    ProducerRecord producer(long streamId, String producerId) {
        Map<String, ProducerRecord> staged = producers.get(streamId);
        if (staged != null && staged.containsKey(producerId)) {
            return staged.get(producerId);
        }
        ProducerRecord committed;
        if (base() != null) {
            committed = base().producer(streamId, producerId);
        } else {
            StreamState s = registry.byId(streamId);
            committed = s == null ? null : s.producers.get(producerId);
        }
        if (sync != null) {
            // Cluster mode: a duplicate, a gap or a fenced epoch is decided on this state too.
            expectedProducers.computeIfAbsent(
                    streamId + "\u0000" + producerId,
                    k -> new Precondition.ProducerIs(streamId, producerId, committed));
        }
        return committed;
    }

    int forkRefs(long id) {
        int below;
        if (base() != null) {
            below = base().forkRefs(id);
        } else {
            StreamState s = registry.byId(id);
            below = s == null ? 0 : s.forkRefs;
        }
        return below + forkRefDeltas.getOrDefault(id, 0);
    }

    void addForkRef(long id, int delta) {
        forkRefDeltas.merge(id, delta, Integer::sum);
    }

    void put(StreamRecord r) {
        expectUnchanged(r);
        records.put(r.id(), r);
        mutations.add(new Mutation.PutStream(r));
        if (r.lifecycle() == Lifecycle.DETACHED) {
            if (byPath(r.path()) != null && byPath(r.path()).id() == r.id()) {
                pathIds.put(r.path(), REMOVED);
            }
        } else {
            pathIds.put(r.path(), r.id());
        }
    }

    /** Stages data rows after the record's tail; returns the record with the new tail (not yet put). */
    StreamRecord appendData(StreamRecord r, List<byte[]> data) {
        long pos = r.tail();
        List<StoredMessage> rows = new ArrayList<>(data.size());
        for (byte[] d : data) {
            rows.add(new StoredMessage(pos, d));
            pos += d.length;
        }
        mutations.add(new Mutation.AppendMessages(r.id(), rows));
        appended.computeIfAbsent(r.id(), k -> new ArrayList<>()).addAll(rows);
        return r.withTail(pos);
    }

    void putProducer(ProducerRecord p) {
        if (sync != null && !producers.getOrDefault(p.streamId(), Map.of()).containsKey(p.producerId())) {
            producer(p.streamId(), p.producerId()); // records what it was decided on
        }
        producers.computeIfAbsent(p.streamId(), k -> new HashMap<>()).put(p.producerId(), p);
        mutations.add(new Mutation.PutProducer(p));
    }

    void trim(long streamId, long before) {
        mutations.add(new Mutation.TrimMessages(streamId, before));
    }

    void drop(StreamRecord r) {
        expectUnchanged(r);
        StreamRecord current = byPath(r.path());
        if (current != null && current.id() == r.id()) {
            pathIds.put(r.path(), REMOVED);
        }
        records.remove(r.id());
        appended.remove(r.id());
        producers.remove(r.id());
        dropped.add(r.id());
        mutations.add(new Mutation.DropStream(r.id()));
    }

    /** Messages appended by this batch. */
    int appendedMessages() {
        int n = 0;
        for (List<StoredMessage> rows : appended.values()) {
            n += rows.size();
        }
        return n;
    }

    /** Bytes appended by this batch. */
    long appendedBytes() {
        long n = 0;
        for (List<StoredMessage> rows : appended.values()) {
            for (StoredMessage m : rows) {
                n += m.length();
            }
        }
        return n;
    }

    /** Runs after a successful commit and publish, in order. */
    void onCommit(Runnable completion) {
        completions.add(completion);
    }

    /** Makes the committed changes visible to readers, wakes watchers, completes callers. */
    void publish() {
        published = true;
        List<StreamState> touched = new ArrayList<>();
        for (StreamRecord r : records.values()) {
            StreamState s = registry.byId(r.id());
            if (s == null) {
                s = registry.create(r);
            }
            List<StoredMessage> rows = appended.get(r.id());
            if (rows != null) {
                s.recent.append(rows);
            }
            s.advance(r);
            touched.add(s);
        }
        producers.forEach((id, ps) -> {
            StreamState s = registry.byId(id);
            if (s != null) {
                ps.values().forEach(p -> s.putProducer(p, registry.memory()));
            }
        });
        forkRefDeltas.forEach((id, delta) -> {
            StreamState s = registry.byId(id);
            if (s != null) {
                s.forkRefs += delta;
            }
        });
        pathIds.forEach((path, id) -> registry.mapPath(path, id == REMOVED ? null : registry.byId(id)));
        for (long id : dropped) {
            StreamState s = registry.remove(id);
            if (s != null) {
                s.release(registry.memory());
                touched.add(s);
            }
        }
        // Acknowledge writers before waking readers: a writer's latency should not include the fan-out.
        // But take the readers to wake first: a reader that registers once a writer has its answer
        // (a client that reads right after its create) has seen this batch, and waking it would make
        // it read again for nothing (an SSE tail would send a second control event).
        List<Set<Runnable>> toWake = new ArrayList<>(touched.size());
        touched.forEach(s -> toWake.add(s.watchers.take()));
        try {
            completions.forEach(Runnable::run);
        } finally { // taken, they are no longer registered: a failed completion must not strand them
            toWake.forEach(TailWatchers::run);
        }
    }
}
