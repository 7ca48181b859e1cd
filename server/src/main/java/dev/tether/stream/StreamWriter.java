package dev.tether.stream;

import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.StoreException;
import dev.tether.store.StreamStore;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The single writer: takes up to {@code maxBatch} queued commands, stages them over the registry
 * (and over the batches committed before them and not yet durable), commits them to the store
 * (as one batch, or several where a fork must see what precedes it committed), then makes them
 * durable with one {@link StreamStore#sync} and publishes them, completing the callers in commit
 * order: an append is acknowledged, and readers see it, only after it is on disk. Whatever
 * arrives during a flush waits in the queue and shares the next one (group commit).
 *
 * <p>The flush runs on this thread. A second thread flushing while this one committed the next
 * batch (pipelined group commit, until 2026-12-06) did more appends per fdatasync, but its two
 * extra hand-offs per batch cost more than the overlap saved: on 2 cores, inline flushes made
 * 11% more appends/s and 20% more per CPU-second (docs/benchmarks.md).
 *
 * <p>If the writer thread dies (an {@link Error} such as OutOfMemoryError), every command it held
 * fails, {@link #health} reports {@link StorageHealth.State#FAILED}, and later writes are refused
 * at once: nothing waits on a thread that will never answer.
 *
 * <p>Thread-safety: {@link #submit} and {@link #health} from any thread; everything else runs on
 * the writer thread.
 */
final class StreamWriter {
    private static final System.Logger LOG = System.getLogger(StreamWriter.class.getName());
    private static final long SWEEP_INTERVAL_MILLIS = 1000;
    /** Cluster mode: how often one batch is decided again after conflicting with other nodes. */
    private static final int MAX_ATTEMPTS = 16;

    private final EngineObserver observer;
    /** The store has more housekeeping to do: the next wait for a command does not wait. Writer thread. */
    private boolean housekeeping;

    /** A flush failed: no later flush is trusted (see {@link #publish}). Writer thread only. */
    private boolean flushFailed;

    private final StreamStore store;
    private final StreamRegistry registry;
    private final InstantSource clock;
    private final CommandStager stager;
    private final BlockingQueue<WriteCommand> queue;
    private final int maxBatch;
    private final Thread thread;
    private final WriterHealth health;
    /** Cluster mode's link to the shared store, or null on one node. */
    private final RegistrySync sync;

    private volatile boolean started;
    private volatile boolean accepting = true;
    /** Written by the writer thread, read by readers telling a never-issued offset from a stale one. */
    private volatile long lastId;

    private long lastSweep;

    /** When windows last dropped their old messages (nanoTime). Writer thread. */
    private long lastExpiry = System.nanoTime();
    /** The commands of the current drain; those in a committed batch are answered when it is published. */
    private final List<WriteCommand> pending;
    /** The writer thread's scheduling policy, following its load. Writer thread only. */
    private final BatchScheduling scheduling = new BatchScheduling();
    /** Batches committed and not yet flushed and published, oldest first. */
    private final ArrayDeque<WriteBatch> inFlight = new ArrayDeque<>();

    StreamWriter(
            StreamStore store,
            StreamRegistry registry,
            StreamReader reader,
            InstantSource clock,
            long lastId,
            RegistrySync sync,
            EngineSettings settings,
            EngineObserver observer) {
        this.sync = sync;
        this.observer = observer;
        this.store = store;
        this.registry = registry;
        this.clock = clock;
        this.stager = new CommandStager(registry, reader, store, settings.retainBytes());
        this.queue = new ArrayBlockingQueue<>(settings.writeQueueCapacity());
        this.maxBatch = settings.maxBatch();
        this.pending = new ArrayList<>(maxBatch);
        this.lastId = lastId;
        this.health = new WriterHealth(clock);
        this.thread = Thread.ofPlatform().name("tether-writer").unstarted(this::run);
    }

    void start() {
        thread.start();
        started = true;
    }

    /** The highest stream id allocated so far (in cluster mode, by any node). */
    long lastId() {
        if (sync != null) {
            try {
                return Math.max(lastId, sync.maxId());
            } catch (StoreException e) {
                return Long.MAX_VALUE; // cannot tell: call the offset another stream's (410), not a made-up one (400)
            }
        }
        return lastId;
    }

    StorageHealth health() {
        checkThreads();
        return health.current();
    }

    void submit(WriteCommand command) {
        if (!accepting) {
            command.fail(shuttingDown());
            return;
        }
        checkThreads();
        if (health.refusal() != null) {
            command.fail(health.refusal());
        } else if (!queue.offer(command)) {
            command.fail(new WriteRejectedException(
                    WriteRejectedException.Reason.OVERLOADED, "too many writes are queued; retry shortly", null));
        } else if (!thread.isAlive()) {
            checkThreads();
            // The writer died or exited after the check: nobody else will answer what is queued.
            drainAndFail(health.refusal() != null ? health.refusal() : shuttingDown());
        }
    }

    private static WriteRejectedException shuttingDown() {
        return new WriteRejectedException(
                WriteRejectedException.Reason.SHUTTING_DOWN, "the server is shutting down", null);
    }

    /** Fails the health for good once the writer thread has ended while accepting writes. */
    private void checkThreads() {
        if (started && accepting && !thread.isAlive()) {
            health.fail("the writer thread has stopped", null);
        }
    }

    /** Stops taking commands, commits everything already queued, then returns. */
    void shutdown() throws InterruptedException {
        accepting = false;
        thread.join();
        drainAndFail(shuttingDown()); // a command offered as the writer exited is answered too
    }

    private void run() {
        try {
            loop();
        } catch (Throwable t) { // an Error ends the writer; answer everyone it held before it goes
            health.fail("the writer thread died: " + t, t);
            pending.forEach(c -> c.fail(health.refusal()));
            for (WriteBatch b : inFlight) {
                b.commands().forEach(c -> c.fail(health.refusal()));
            }
            drainAndFail(health.refusal());
        }
    }

    /**
     * Group commits until shutdown. Each is a method of its own: the JIT compiles a method once it
     * has been called often, while a loop in one method waits for an on-stack replacement, which
     * this loop, one pass per flush, had not earned after 47 s of load (docs/benchmarks.md).
     */
    private void loop() {
        boolean running = true;
        while (running && (accepting || !queue.isEmpty())) {
            running = groupCommit();
        }
    }

    /**
     * Takes what is queued (waiting up to 200 ms for the first command), commits it, then flushes
     * and publishes everything committed. False when the thread was interrupted.
     */
    private boolean groupCommit() {
        try {
            WriteCommand first = queue.poll(housekeeping ? 0 : 200, TimeUnit.MILLISECONDS);
            if (first != null) {
                pending.add(first);
                queue.drainTo(pending, maxBatch - 1);
                scheduling.took(pending.size());
                runBatches(pending);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "writer batch failed", e);
            failUncommitted(e);
        }
        pending.clear(); // not on an Error: run() must still answer them
        maybeSweep();
        flush();
        housekeeping = maintain();
        expireWindows();
        return true;
    }

    /** Drops window messages older than {@link RecentWindow#MAX_AGE_NANOS}, a few times per that age. */
    private void expireWindows() {
        long now = System.nanoTime();
        if (now - lastExpiry >= RecentWindow.MAX_AGE_NANOS / 4) {
            lastExpiry = now;
            registry.memory().expire(now - RecentWindow.MAX_AGE_NANOS);
        }
    }

    /**
     * The store's housekeeping ({@link StreamStore#maintain}), after the flush: no answer waits for
     * it. True when the store has more to do.
     */
    private boolean maintain() {
        try {
            return store.maintain();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "the store's housekeeping failed", e);
            return false;
        }
    }

    /**
     * A bug stopped a drain part-way: fails its commands that no committed batch holds. The
     * batches committed before it are flushed and published as usual, so theirs are answered then
     * (failing them now would answer an error for a write that is stored).
     */
    private void failUncommitted(RuntimeException e) {
        Set<WriteCommand> committed = Collections.newSetFromMap(new IdentityHashMap<>());
        inFlight.forEach(b -> committed.addAll(b.commands()));
        pending.stream().filter(c -> !committed.contains(c)).forEach(c -> c.fail(e));
    }

    private void drainAndFail(WriteRejectedException refusal) {
        List<WriteCommand> left = new ArrayList<>();
        queue.drainTo(left);
        left.forEach(c -> c.fail(refusal));
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
        if (commands.isEmpty()) {
            return;
        }
        if (health.refusal() != null) {
            commands.forEach(c -> c.fail(health.refusal()));
            return;
        }
        for (int attempt = 1; ; attempt++) {
            WriteBatch batch = stage(commands, attempt == 1);
            if (batch == null) {
                return;
            }
            CommitResult result;
            try {
                result = batch.nothingToCommit()
                        ? CommitResult.COMMITTED
                        : store.commit(
                                sync == null
                                        ? Commit.unconditional(batch.mutations())
                                        : new Commit(batch.preconditions(), batch.mutations()));
            } catch (StoreException e) {
                failCommit(commands, e);
                return;
            }
            if (result instanceof CommitResult.Conflict conflict) {
                if (sync == null) {
                    // One node is the store's only writer, so there is nothing to conflict with.
                    throw new IllegalStateException("an unconditional commit conflicted: " + conflict.failed());
                }
                observer.conflicted();
                if (attempt < MAX_ATTEMPTS) {
                    continue; // another node changed what the batch was decided on: decide again on fresh state
                }
                WriteRejectedException busy = new WriteRejectedException(
                        WriteRejectedException.Reason.OVERLOADED,
                        "other nodes kept changing the streams of this write (" + MAX_ATTEMPTS
                                + " conflicting attempts); retry shortly",
                        null);
                commands.forEach(c -> c.fail(busy));
                return;
            }
            committed(commands, batch);
            return;
        }
    }

    /**
     * Stages the commands into a new batch; in cluster mode first refreshes the streams they
     * touch from the shared store. Null when that refresh failed (the commands are answered).
     */
    private WriteBatch stage(List<WriteCommand> commands, boolean optimistic) {
        if (sync != null) {
            try {
                sync.beforeStage(commands, optimistic);
            } catch (StoreException e) {
                health.unavailable(e);
                commands.forEach(c -> c.fail(unavailable(e)));
                return null;
            }
        }
        WriteBatch batch = new WriteBatch(registry, sync, inFlight.peekLast(), lastId, clock.millis());
        for (WriteCommand c : commands) {
            batch.addCommand(c);
            try {
                stager.stage(batch, c);
            } catch (StoreException e) {
                c.fail(unavailable(e));
            } catch (WriteRejectedException e) {
                c.fail(e);
            } catch (RuntimeException e) { // a bug: fail this command only, not its neighbours
                LOG.log(System.Logger.Level.ERROR, "staging a write failed", e);
                c.fail(e);
            }
        }
        return batch;
    }

    private void committed(List<WriteCommand> commands, WriteBatch batch) {
        lastId = batch.lastId();
        inFlight.addLast(batch); // first: the store holds it now, so it must be flushed and published
        if (!batch.isEmpty()) {
            health.committed();
            observer.committed(commands.size());
        }
        if (sync != null) {
            flush(); // a shared store's commit is already durable, and the next batch must see this one
        }
    }

    private void failCommit(List<WriteCommand> commands, StoreException e) {
        WriteRejectedException failure;
        if (e.outcomeUnknown() && sync != null) {
            // Cluster mode re-reads the shared store before every batch, so nothing cached here
            // can be wrong afterwards: only these writes are in doubt.
            health.unavailable(e);
            failure = new WriteRejectedException(
                    WriteRejectedException.Reason.STORAGE_UNAVAILABLE,
                    "storage failed while committing and the write may or may not have been stored; "
                            + "read the stream to find out (or retry with producer headers, which makes it safe)",
                    e);
        } else if (e.outcomeUnknown()) {
            // Neither "failed" nor "done" would be true: say so, and stop writing until a
            // restart re-reads what the store holds.
            health.fail("a commit's outcome is unknown (" + e.getMessage() + ")", e);
            failure = new WriteRejectedException(
                    WriteRejectedException.Reason.STORAGE_UNAVAILABLE,
                    "storage failed while committing and the write may or may not have been stored; "
                            + "read the stream after the server restarts (or retry with producer headers)",
                    e);
        } else if (e.needsRestart()) {
            health.fail(e.getMessage(), e); // these writes were not stored; none will be until a restart
            failure = health.refusal();
        } else {
            health.unavailable(e);
            failure = unavailable(e);
        }
        commands.forEach(c -> c.fail(failure));
    }

    /** Makes every committed batch durable with one {@link StreamStore#sync}, then publishes them. */
    private void flush() {
        if (inFlight.isEmpty()) {
            return;
        }
        StoreException failure = null;
        if (inFlight.stream().anyMatch(b -> !b.isEmpty())) {
            try {
                long start = System.nanoTime();
                store.sync();
                observer.synced(System.nanoTime() - start);
            } catch (StoreException e) {
                failure = e;
            }
        }
        publish(failure);
    }

    /**
     * Publishes the batches in flight in commit order, or fails them if their flush failed. After
     * one failed flush no later one is trusted: the kernel may have dropped the pages and a later
     * fsync still succeed (the PostgreSQL "fsyncgate" lesson), so only a restart, which re-reads
     * the store, knows what is on disk. A batch whose flush succeeded is answered as done even if
     * writing has failed for another reason since (an unknown commit outcome): it is on disk.
     */
    private void publish(StoreException flushFailure) {
        if (flushFailure != null) {
            flushFailed = true;
            health.fail("flushing to disk failed (" + flushFailure.getMessage() + ")", flushFailure);
        }
        while (!inFlight.isEmpty()) {
            WriteBatch batch = inFlight.peekFirst();
            if (flushFailed) {
                batch.commands().forEach(c -> c.fail(health.refusal()));
            } else {
                try {
                    batch.publish();
                    observer.published(batch.appendedMessages(), batch.appendedBytes());
                } catch (RuntimeException e) { // a bug in a listener must not strand the batches after it
                    LOG.log(System.Logger.Level.ERROR, "publishing a durable batch failed", e);
                }
            }
            // Only now: if an Error ends the thread inside publish, run() still answers this batch.
            inFlight.removeFirst();
        }
    }

    private void maybeSweep() {
        long now = clock.millis();
        if (now - lastSweep < SWEEP_INTERVAL_MILLIS || health.refusal() != null) {
            return;
        }
        lastSweep = now;
        commit(List.of(new WriteCommand.Sweep(new CompletableFuture<>())));
    }

    private static WriteRejectedException unavailable(StoreException e) {
        return new WriteRejectedException(
                WriteRejectedException.Reason.STORAGE_UNAVAILABLE, "storage unavailable: " + e.getMessage(), e);
    }
}
