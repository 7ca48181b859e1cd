package dev.tether.testing;

import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.StoreContents;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamStore;
import dev.tether.store.memory.MemoryStreamStore;
import java.util.List;

/**
 * A memory store to wrap in a fault: every call goes to a {@link MemoryStreamStore}, and a test
 * overrides the one it breaks (a commit that fails, a flush that waits).
 */
public class MemoryStoreWrapper implements StreamStore {
    private final MemoryStreamStore inner = new MemoryStreamStore();

    @Override
    public StoreContents load() throws StoreException {
        return inner.load();
    }

    @Override
    public CommitResult commit(Commit commit) throws StoreException {
        return inner.commit(commit);
    }

    @Override
    public List<StoredMessage> read(long streamId, long from, long to, int maxBytes) throws StoreException {
        return inner.read(streamId, from, to, maxBytes);
    }

    @Override
    public String describe() {
        return getClass().getSimpleName();
    }

    @Override
    public String kind() {
        return "memory";
    }

    @Override
    public void close() {
        inner.close();
    }
}
