package dev.tether.stream;

import dev.tether.store.StoreException;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.Lifecycle;
import dev.tether.store.StreamStore;
import java.util.Collection;

/**
 * Applies one command to a {@link WriteBatch}: decides its result against the staged state and
 * stages its mutations; the result is handed to the caller once the batch is durable.
 *
 * <p>Not thread-safe: confined to the writer thread.
 */
final class CommandStager {
    private final StreamRegistry registry;
    private final CreateOperation create;
    private final Retention retention;

    CommandStager(StreamRegistry registry, StreamReader reader, StreamStore store, long retainBytes) {
        this.registry = registry;
        this.create = new CreateOperation(reader);
        this.retention = new Retention(store, retainBytes);
    }

    /**
     * @throws StoreException a read the command needed failed
     * @throws WriteRejectedException the command is refused before it staged anything
     */
    void stage(WriteBatch batch, WriteCommand command) throws StoreException {
        switch (command) {
            case WriteCommand.Create c -> {
                CreateResult result = create.apply(batch, c.request());
                batch.onCommit(() -> c.result().complete(result));
            }
            case WriteCommand.Append a -> {
                AppendResult result = AppendOperation.apply(batch, a.request());
                batch.onCommit(() -> a.result().complete(result));
            }
            case WriteCommand.Delete d -> {
                DeleteResult result = delete(batch, d.path());
                batch.onCommit(() -> d.result().complete(result));
            }
            case WriteCommand.Sweep s -> {
                int expired = sweep(batch, registry.all());
                batch.onCommit(() -> s.result().complete(expired));
            }
        }
    }

    private static DeleteResult delete(WriteBatch batch, String path) {
        StreamRecord r = Lifecycles.current(batch, path);
        if (r == null) {
            return new Rejection.NotFound("stream " + path + " does not exist");
        }
        if (r.lifecycle() == Lifecycle.SOFT_DELETED) {
            return new Rejection.Gone("stream " + path + " has already been deleted");
        }
        Lifecycles.delete(batch, r);
        return new DeleteResult.Deleted(path);
    }

    private int sweep(WriteBatch batch, Collection<StreamState> streams) throws StoreException {
        retention.apply(batch, streams);
        int expired = 0;
        for (StreamState s : streams) {
            StreamRecord r = batch.byId(s.record.id());
            if (r != null && r.lifecycle() == Lifecycle.LIVE && batch.expired(r)) {
                Lifecycles.expire(batch, r);
                expired++;
            }
        }
        return expired;
    }
}
