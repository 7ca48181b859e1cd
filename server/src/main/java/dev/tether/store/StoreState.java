package dev.tether.store;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The metadata a store keeps in memory when it is the only writer of its data (the memory store,
 * the log store): stream records, producer state and the id high-water mark, with the checking of
 * a commit's {@link Precondition}s against them and the applying of the mutations that change
 * them. Where messages live is the store's own business.
 *
 * <p>Thread-safety: changes from one writer thread; reads from any (concurrent maps).
 */
public final class StoreState {
    private final Map<Long, StreamRecord> streams = new ConcurrentHashMap<>();
    private final Map<Long, Map<String, ProducerRecord>> producers = new ConcurrentHashMap<>();
    private volatile long maxId;

    /**
     * Everything, as {@link StreamStore#load} returns it: a store of this kind is new, so every
     * offset a client holds carries its stream's incarnation.
     */
    public StoreContents contents() {
        List<ProducerRecord> all = new ArrayList<>();
        producers.values().forEach(m -> all.addAll(m.values()));
        return new StoreContents(List.copyOf(streams.values()), all, maxId, 0);
    }

    /** The record of stream {@code id}, or null. */
    public StreamRecord stream(long id) {
        return streams.get(id);
    }

    /** The preconditions that do not hold now (empty: all do). */
    public List<Precondition> failed(List<Precondition> expect) {
        List<Precondition> failed = new ArrayList<>();
        for (Precondition p : expect) {
            if (!holds(p)) {
                failed.add(p);
            }
        }
        return failed;
    }

    private boolean holds(Precondition p) {
        return switch (p) {
            case Precondition.StreamIs s ->
                s.expected().equals(streams.get(s.expected().id()));
            case Precondition.PathFree f ->
                streams.values().stream()
                        .noneMatch(r -> r.path().equals(f.path()) && r.lifecycle() != StreamRecord.Lifecycle.DETACHED);
            case Precondition.ProducerIs q ->
                Objects.equals(producers.getOrDefault(q.streamId(), Map.of()).get(q.producerId()), q.expected());
            case Precondition.NotRenewedAfter n -> true; // renewals here live in the records
        };
    }

    /** Applies what {@code m} changes of the metadata (records, producers); messages are the caller's. */
    public void apply(Mutation m) {
        switch (m) {
            case Mutation.PutStream p -> {
                streams.put(p.record().id(), p.record());
                maxId = Math.max(maxId, p.record().id());
            }
            case Mutation.PutProducer p ->
                producers
                        .computeIfAbsent(p.producer().streamId(), id -> new ConcurrentHashMap<>())
                        .put(p.producer().producerId(), p.producer());
            case Mutation.DropStream d -> {
                streams.remove(d.streamId());
                producers.remove(d.streamId());
            }
            case Mutation.AppendMessages a -> {}
            case Mutation.TrimMessages t -> {}
        }
    }

    /** Takes over everything in {@code contents} (a store's checkpoint, at open). */
    public void restore(StoreContents contents) {
        contents.streams().forEach(r -> streams.put(r.id(), r));
        contents.producers().forEach(p -> producers
                .computeIfAbsent(p.streamId(), id -> new ConcurrentHashMap<>())
                .put(p.producerId(), p));
        maxId = Math.max(maxId, contents.maxStreamId());
    }

    /** Forgets everything (closing a store that keeps nothing). */
    public void clear() {
        streams.clear();
        producers.clear();
    }
}
