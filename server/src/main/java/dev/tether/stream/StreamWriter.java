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
 * registry, commits the batch to the store in one transaction (one fsync: group commit), then
 * publishes the result and completes the callers. An append is acknowledged only after its
 * commit returned.
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
    }

    void start() {
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
    }

    private void run() {
        List<WriteCommand> pending = new ArrayList<>(maxBatch);
        while (accepting || !queue.isEmpty()) {
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
            if (c.needsCommittedState() && !batch.isEmpty()) {
                commit(batch);
                batch.clear();
            }
            batch.add(c);
        }
        commit(batch);
    }

    private void commit(List<WriteCommand> commands) {
        WriteBatch batch = new WriteBatch(registry, lastId, clock.millis());
        for (WriteCommand c : commands) {
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
            markUnavailable(e);
            WriteRejectedException failure = unavailable(e);
            commands.forEach(c -> c.fail(failure));
            return;
        }
        if (!batch.isEmpty() && !health.writable()) {
            health = new StorageHealth(true, "ok", clock.millis());
            LOG.log(System.Logger.Level.INFO, "storage is writable again");
        }
        lastId = batch.lastId();
        batch.publish();
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
