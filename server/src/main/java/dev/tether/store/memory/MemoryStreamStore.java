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
import dev.tether.store.StoreContents;
import dev.tether.store.StoreState;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
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
    private final StoreState state = new StoreState();
    private final Map<Long, NavigableMap<Long, byte[]>> messages = new ConcurrentHashMap<>();

    @Override
    public StoreContents load() {
        return state.contents(); // nothing outlives the process: no client holds an older offset
    }

    /** Checks and applies under one lock, so several engines (nodes in a test) can share the store. */
    @Override
    public synchronized CommitResult commit(Commit commit) {
        List<Precondition> failed = state.failed(commit.expect());
        if (!failed.isEmpty()) {
            return new CommitResult.Conflict(failed);
        }
        for (Mutation m : commit.apply()) {
            state.apply(m);
            switch (m) {
                case AppendMessages a -> {
                    NavigableMap<Long, byte[]> rows =
                            messages.computeIfAbsent(a.streamId(), k -> new ConcurrentSkipListMap<>());
                    for (StoredMessage msg : a.messages()) {
                        rows.put(msg.position(), msg.data());
                    }
                }
                case TrimMessages t -> {
                    NavigableMap<Long, byte[]> rows = messages.get(t.streamId());
                    if (rows != null) {
                        rows.headMap(t.beforePosition(), false).clear();
                    }
                }
                case DropStream d -> messages.remove(d.streamId());
                case PutStream p -> {}
                case PutProducer p -> {}
            }
        }
        return CommitResult.COMMITTED;
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
            bytes += m.length();
            if (bytes >= maxBytes) {
                break;
            }
        }
        return out;
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
        state.clear();
        messages.clear();
    }
}
