package dev.tether.store.memory;

import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.Mutation;
import dev.tether.store.Mutation.AppendMessages;
import dev.tether.store.Mutation.DropStream;
import dev.tether.store.Mutation.PutProducer;
import dev.tether.store.Mutation.PutStream;
import dev.tether.store.Mutation.TrimMessages;
import dev.tether.store.Precondition;
import dev.tether.store.ProducerRecord;
import dev.tether.store.StoreContents;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The zero-retention store: everything lives in the heap and is gone when the process ends;
 * nothing is ever written to disk.
 *
 * <p>Thread-safety: {@link #commit} from one writer thread; {@link #read} from any thread
 * (concurrent maps; a reader sees each message either fully or not at all).
 */
public final class MemoryStreamStore implements StreamStore {
    private final Map<Long, StreamRecord> streams = new ConcurrentHashMap<>();
    private final Map<Long, NavigableMap<Long, byte[]>> messages = new ConcurrentHashMap<>();
    private final Map<Long, Map<String, ProducerRecord>> producers = new ConcurrentHashMap<>();
    private long maxId;

    @Override
    public StoreContents load() {
        List<ProducerRecord> all = new ArrayList<>();
        producers.values().forEach(m -> all.addAll(m.values()));
        // Nothing outlives the process, so no client can hold an offset from before incarnations.
        return new StoreContents(List.copyOf(streams.values()), all, maxId, 0);
    }

    /** Checks and applies under one lock, so several engines (nodes in a test) can share the store. */
    @Override
    public synchronized CommitResult commit(Commit commit) {
        List<Precondition> failed = new ArrayList<>();
        for (Precondition p : commit.expect()) {
            if (!holds(p)) {
                failed.add(p);
            }
        }
        if (!failed.isEmpty()) {
            return new CommitResult.Conflict(failed);
        }
        apply(commit.apply());
        return CommitResult.COMMITTED;
    }

    private boolean holds(Precondition p) {
        return switch (p) {
            case Precondition.StreamIs t ->
                t.expected().equals(streams.get(t.expected().id()));
            case Precondition.PathFree f ->
                streams.values().stream()
                        .noneMatch(r -> r.path().equals(f.path()) && r.lifecycle() != StreamRecord.Lifecycle.DETACHED);
            case Precondition.ProducerIs q -> {
                ProducerRecord now =
                        producers.getOrDefault(q.streamId(), Map.of()).get(q.producerId());
                yield Objects.equals(now, q.expected());
            }
        };
    }

    private void apply(List<Mutation> batch) {
        for (Mutation m : batch) {
            switch (m) {
                case PutStream p -> {
                    streams.put(p.record().id(), p.record());
                    maxId = Math.max(maxId, p.record().id());
                }
                case AppendMessages a -> {
                    NavigableMap<Long, byte[]> rows =
                            messages.computeIfAbsent(a.streamId(), k -> new ConcurrentSkipListMap<>());
                    for (StoredMessage msg : a.messages()) {
                        rows.put(msg.position(), msg.data());
                    }
                }
                case PutProducer p ->
                    producers
                            .computeIfAbsent(p.producer().streamId(), k -> new ConcurrentHashMap<>())
                            .put(p.producer().producerId(), p.producer());
                case TrimMessages t -> {
                    NavigableMap<Long, byte[]> rows = messages.get(t.streamId());
                    if (rows != null) {
                        rows.headMap(t.beforePosition(), false).clear();
                    }
                }
                case DropStream d -> {
                    streams.remove(d.streamId());
                    messages.remove(d.streamId());
                    producers.remove(d.streamId());
                }
            }
        }
    }

    @Override
    public List<StoredMessage> read(long streamId, long from, long to, int maxBytes) {
        NavigableMap<Long, byte[]> rows = messages.get(streamId);
        List<StoredMessage> out = new ArrayList<>();
        if (rows == null) {
            return out;
        }
        Long start = rows.floorKey(from);
        long bytes = 0;
        for (Map.Entry<Long, byte[]> e :
                rows.subMap(start == null ? from : start, true, to, false).entrySet()) {
            StoredMessage m = new StoredMessage(e.getKey(), e.getValue());
            if (m.end() <= from) {
                continue;
            }
            out.add(m);
            bytes += m.data().length;
            if (bytes >= maxBytes) {
                break;
            }
        }
        return out;
    }

    @Override
    public boolean durable() {
        return false;
    }

    @Override
    public String kind() {
        return "memory";
    }

    @Override
    public String describe() {
        return "memory (zero retention)";
    }

    @Override
    public void close() {
        streams.clear();
        messages.clear();
        producers.clear();
    }
}
