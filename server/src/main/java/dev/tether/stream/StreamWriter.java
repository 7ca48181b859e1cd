package dev.tether.stream;

import dev.tether.store.StoreException;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.Lifecycle;
import dev.tether.store.StreamStore;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The single writer: drains every queued command into one batch, stages them over the
 * registry (and over earlier batches not yet durable), commits the batch to the store in one
 * transaction, and hands it to the {@link StoreSyncer}. Once a flush has made it durable, the
 * writer publishes it and completes the callers, in commit order: an append is acknowledged,
 * and readers see it, only after it is on disk. One fsync covers every batch committed while
 * the previous one ran (group commit, pipelined).
 *
 * <p>Thread-safety: {@link #submit} from any thread; everything else runs on the writer thread.
 */
final class StreamWriter {
    private static final System.Logger LOG = System.getLogger(StreamWriter.class.getName());
    private static final long SWEEP_INTERVAL_MILLIS = 1000;

    private final StreamStore store;
    private final StreamRegistry registry;
    private final InstantSource clock;
    private final CreateOperation create;
    private final BlockingQueue<WriteCommand> queue;
    private final int maxBatch;
    private final Thread thread;
    private volatile boolean accepting = true;
    private volatile StorageHealth health;
    private long lastId;
    private long lastSweep;
    private final Retention retention;
    private final StoreSyncer syncer;
    /** The newest committed batch that is not yet durable and published, or null. */
    private WriteBatch unsynced;

    private int inFlight;
    /** An fsync failed: what the store holds may differ from what was acknowledged. */
    private boolean poisoned;

    StreamWriter(
            StreamStore store,
            StreamRegistry registry,
            StreamReader reader,
            InstantSource clock,
            long lastId,
            int queueCapacity,
            int maxBatch,
            long retainBytes) {
        this.store = store;
        this.retention = new Retention(store, retainBytes);
        this.registry = registry;
        this.clock = clock;
        this.create = new CreateOperation(reader);
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.maxBatch = maxBatch;
        this.lastId = lastId;
        this.health = new StorageHealth(true, "ok", clock.millis());
        this.thread = Thread.ofPlatform().name("tether-writer").unstarted(this::run);
        this.syncer = new StoreSyncer(store, this::synced);
    }

    void start() {
        syncer.start();
        thread.start();
    }

    StorageHealth health() {
        return health;
    }

    void submit(WriteCommand command) {
        if (!accepting) {
            command.fail(new WriteRejectedException(
                    WriteRejectedException.Reason.SHUTTING_DOWN, "the server is shutting down", null));
        } else if (!queue.offer(command)) {
            command.fail(new WriteRejectedException(
                    WriteRejectedException.Reason.OVERLOADED, "too many writes are queued; retry shortly", null));
        }
    }

    /** Stops taking commands, commits everything already queued, then returns. */
    void shutdown() throws InterruptedException {
        accepting = false;
        thread.join();
        syncer.shutdown();
    }

    /** Called on the syncer thread; the writer picks the result up from its queue. */
    private void synced(WriteCommand.Synced result) {
        try {
            queue.put(result);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        List<WriteCommand> pending = new ArrayList<>(maxBatch);
        while (accepting || !queue.isEmpty() || inFlight > 0) {
            try {
                WriteCommand first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    maybeSweep();
                    continue;
                }
                pending.add(first);
                queue.drainTo(pending, maxBatch - 1);
                runBatches(pending);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "writer batch failed", e);
                pending.forEach(c -> c.fail(e));
            } finally {
                pending.clear();
            }
            maybeSweep();
        }
    }

    /** Splits at commands that must see committed state, committing before each of them. */
    private void runBatches(List<WriteCommand> commands) {
        List<WriteCommand> batch = new ArrayList<>(commands.size());
        for (WriteCommand c : commands) {
            if (c instanceof WriteCommand.Synced done) {
                inFlight -= done.batches().size();
                publish(done.batches(), done.failure()); // acknowledgements first: they never depend on what follows
            }
        }
        for (WriteCommand c : commands) {
            if (c instanceof WriteCommand.Synced) {
                continue;
            }
            if (c.needsCommittedState() && !batch.isEmpty()) {
                commit(batch);
                batch.clear();
            }
            batch.add(c);
        }
        commit(batch);
    }

    private void commit(List<WriteCommand> commands) {
        if (commands.isEmpty()) {
            return;
        }
        if (poisoned) {
            var failure = new WriteRejectedException(
                    WriteRejectedException.Reason.STORAGE_UNAVAILABLE,
                    "storage unavailable: flushing to disk failed earlier; restart the server to recover",
                    null);
            commands.forEach(c -> c.fail(failure));
            return;
        }
        WriteBatch batch = new WriteBatch(registry, unsynced, lastId, clock.millis());
        for (WriteCommand c : commands) {
            batch.addCommand(c);
            try {
                stage(batch, c);
            } catch (StoreException e) {
                c.fail(unavailable(e));
            }
        }
        try {
            if (!batch.isEmpty()) {
                store.commit(batch.mutations());
            }
        } catch (StoreException e) {
            WriteRejectedException failure;
            if (e.outcomeUnknown()) {
                // Neither "failed" nor "done" would be true: say so, and stop writing until a
                // restart re-reads what the store holds.
                poison(e);
                failure = new WriteRejectedException(
                        WriteRejectedException.Reason.STORAGE_UNAVAILABLE,
                        "storage failed while committing and the write may or may not have been stored; "
                                + "read the stream after the server restarts (or retry with producer headers)",
                        e);
            } else {
                markUnavailable(e);
                failure = unavailable(e);
            }
            commands.forEach(c -> c.fail(failure));
            return;
        }
        if (!batch.isEmpty() && !health.writable()) {
            health = new StorageHealth(true, "ok", clock.millis());
            LOG.log(System.Logger.Level.INFO, "storage is writable again");
        }
        lastId = batch.lastId();
        if (inFlight == 0 && (!store.durable() || queue.isEmpty())) {
            // Nothing to pipeline with: flushing here saves two thread hand-offs of latency.
            syncInline(batch);
            return;
        }
        unsynced = batch;
        inFlight++;
        syncer.submit(batch);
    }

    private void syncInline(WriteBatch batch) {
        StoreException failure = null;
        if (!batch.isEmpty()) {
            try {
                store.sync();
            } catch (StoreException e) {
                failure = e;
            }
        }
        publish(List.of(batch), failure);
    }

    /** Publishes durable batches in commit order, or fails them if the flush failed. */
    private void publish(List<WriteBatch> batches, StoreException flushFailure) {
        if (flushFailure != null) {
            poison(flushFailure);
        }
        for (WriteBatch batch : batches) {
            if (poisoned) {
                WriteRejectedException failure = unavailable(
                        flushFailure != null
                                ? flushFailure
                                : new StoreException("an earlier flush failed", null, true));
                batch.commands().forEach(c -> c.fail(failure));
            } else {
                batch.publish();
            }
            if (batch == unsynced) {
                unsynced = null;
            }
        }
    }

    private void stage(WriteBatch batch, WriteCommand command) throws StoreException {
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
                int expired = sweep(batch);
                batch.onCommit(() -> s.result().complete(expired));
            }
            case WriteCommand.Synced s -> throw new IllegalStateException("sync results are never staged");
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

    private int sweep(WriteBatch batch) throws StoreException {
        retention.apply(batch, registry.all());
        int expired = 0;
        for (StreamState s : registry.all()) {
            StreamRecord r = batch.byId(s.record.id());
            if (r != null && r.lifecycle() == Lifecycle.LIVE && batch.expired(r)) {
                Lifecycles.expire(batch, r);
                expired++;
            }
        }
        return expired;
    }

    private void maybeSweep() {
        long now = clock.millis();
        if (now - lastSweep < SWEEP_INTERVAL_MILLIS) {
            return;
        }
        lastSweep = now;
        commit(List.of(new WriteCommand.Sweep(new java.util.concurrent.CompletableFuture<>())));
    }

    /** What the store holds may differ from what the engine believes: refuse writes until a restart. */
    private void poison(StoreException e) {
        if (poisoned) {
            return;
        }
        poisoned = true;
        markUnavailable(e);
        LOG.log(System.Logger.Level.ERROR, "refusing writes until the server restarts: " + e.getMessage());
    }

    private void markUnavailable(StoreException e) {
        if (health.writable()) {
            LOG.log(
                    System.Logger.Level.ERROR,
                    "storage unavailable, appends will fail until it recovers: " + e.getMessage());
        }
        health = new StorageHealth(false, e.getMessage(), clock.millis());
    }

    private static WriteRejectedException unavailable(StoreException e) {
        return new WriteRejectedException(
                WriteRejectedException.Reason.STORAGE_UNAVAILABLE, "storage unavailable: " + e.getMessage(), e);
    }
}
