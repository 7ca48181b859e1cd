package dev.tether.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.StoreException;
import dev.tether.store.sqlite.SqliteStreamStore;
import dev.tether.testing.ManualClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acknowledged means durable (finding 2 of the outside probe: with {@code sync()} a no-op the
 * suite still passed, because SIGKILL keeps the page cache). An append's future may complete only
 * after a {@code sync()} that started after its commit has returned: one append at a time, and a
 * burst that queues up behind a flush and is committed in several batches. A failed sync fails
 * every append it covered.
 */
class DurabilityOrderTest {
    private static final int STREAMS = 4;

    @TempDir
    Path dir;

    private final ManualClock clock = new ManualClock(1_800_000_000_000L);
    private RecordingStore store;
    private StreamEngine engine;

    /** A small batch limit, so a queue of appends is committed in several batches. */
    private void open() throws Exception {
        open(16);
    }

    private void open(int maxBatch) throws Exception {
        store = new RecordingStore(SqliteStreamStore.open(dir, null));
        engine = new StreamEngine(store, clock, EngineSettings.defaults().withMaxBatch(maxBatch));
        for (int s = 0; s < STREAMS; s++) {
            CreateResult created = engine.create(
                            new CreateRequest("s" + s, "text/plain", null, null, false, List.of(), null))
                    .toCompletableFuture()
                    .get(10, TimeUnit.SECONDS);
            assertInstanceOf(CreateResult.Created.class, created);
        }
    }

    @AfterEach
    void close() {
        if (engine != null) {
            engine.close();
        }
    }

    /**
     * Found in review: once any failure had stopped writes, every batch still in flight was failed,
     * even one whose flush then succeeded: a write on disk answered 503 (and written twice by a
     * client that retried without producer headers). A flushed batch is acknowledged; only the
     * commit whose outcome is unknown fails. A fork is committed apart from the appends queued
     * before it (it must see them committed), so its commit can fail after theirs, before the
     * flush that covers them both.
     */
    @Test
    void aFlushedBatchIsAcknowledgedEvenWhenALaterCommitsOutcomeIsUnknown() throws Exception {
        open();
        store.failCommitOf("B", StoreException.outcomeUnknown("injected: the commit's fate is unknown", null));
        Drain d = appendThenForkBehindAHeldFlush();
        ExecutionException refused = assertThrows(ExecutionException.class, () -> d.b().get(10, TimeUnit.SECONDS));
        assertTrue(String.valueOf(refused.getCause().getMessage()).contains("may or may not"), refused.toString());
        assertInstanceOf(AppendResult.Appended.class, d.c().get(10, TimeUnit.SECONDS));
        assertInstanceOf(
                AppendResult.Appended.class,
                d.a().get(10, TimeUnit.SECONDS),
                "A was committed before B failed and its flush succeeded: it is on disk and acknowledged");
    }

    /**
     * The store's housekeeping ({@code maintain}: the log parks quiet streams' index chunks there)
     * runs on the writer thread after each flush, so no acknowledgement waits for it, and goes on
     * while no writes come: every 200 ms, or at once while the store says it has more to do.
     */
    @Test
    void theStoresHousekeepingRunsAfterEachFlushAndWhileNoWritesCome() throws Exception {
        open();
        List<CompletableFuture<AppendResult>> burst = new ArrayList<>();
        CountDownLatch queued = holdNextSync();
        for (int i = 0; i < 40; i++) {
            burst.add(append(i % STREAMS, "m" + i));
        }
        queued.countDown();
        for (CompletableFuture<AppendResult> a : burst) {
            assertInstanceOf(AppendResult.Appended.class, a.get(10, TimeUnit.SECONDS));
        }
        long afterBurst = store.maintained();
        assertTrue(afterBurst > 0, "it ran during the burst");
        assertEquals(0, store.maintainedBeforeSync(), "never while a commit waited for its flush");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (store.maintained() < afterBurst + 3 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertTrue(store.maintained() >= afterBurst + 3, "it goes on with no writes (every 200 ms)");

        long before = store.maintained();
        long started = System.nanoTime();
        store.moreHousekeeping(20);
        while (store.maintained() < before + 21 && System.nanoTime() - started < TimeUnit.SECONDS.toNanos(10)) {
            Thread.sleep(5);
        }
        assertTrue(
                System.nanoTime() - started < TimeUnit.SECONDS.toNanos(2),
                "20 calls with more to do came one after another, not 200 ms apart (4 s)");
    }

    /** C, then A (an append) and B (a fork of another stream, with one message "B"). */
    private record Drain(
            CompletableFuture<AppendResult> c, CompletableFuture<AppendResult> a, CompletableFuture<CreateResult> b) {}

    /**
     * C's flush holds the writer until A and B are queued, so the writer takes A and B in one
     * drain after it, and commits B apart from A: a fork must see what precedes it committed.
     */
    private Drain appendThenForkBehindAHeldFlush() {
        CountDownLatch firstFlushing = new CountDownLatch(1);
        CountDownLatch queued = new CountDownLatch(1);
        AtomicBoolean first = new AtomicBoolean(true);
        store.beforeSync(() -> {
            if (first.compareAndSet(true, false)) {
                firstFlushing.countDown();
                await(queued);
            }
        });
        CompletableFuture<AppendResult> c = append(0, "C");
        await(firstFlushing);
        CompletableFuture<AppendResult> a = append(1, "A");
        CompletableFuture<CreateResult> b = fork("fork", 2, "B");
        queued.countDown();
        return new Drain(c, a, b);
    }

    private CompletableFuture<AppendResult> append(int stream, String message) {
        return engine.append(new AppendRequest(
                        "s" + stream,
                        "text/plain",
                        List.of(message.getBytes(StandardCharsets.UTF_8)),
                        false,
                        null,
                        null))
                .toCompletableFuture();
    }

    /**
     * Holds the next sync until every append of the burst is queued, so that the writer finds a
     * queue behind each batch.
     */
    private CountDownLatch holdNextSync() {
        CountDownLatch queued = new CountDownLatch(1);
        AtomicBoolean held = new AtomicBoolean();
        store.beforeSync(() -> {
            if (held.compareAndSet(false, true)) {
                await(queued);
            }
        });
        return queued;
    }

    private static void await(CountDownLatch latch) {
        try {
            assertTrue(latch.await(30, TimeUnit.SECONDS), "the burst was queued");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void noAppendIsAcknowledgedBeforeTheSyncThatCoversItHasReturned() throws Exception {
        open();
        Map<String, CompletableFuture<?>> acks = new ConcurrentHashMap<>();
        java.util.Set<String> early = ConcurrentHashMap.newKeySet();
        Runnable check = () -> acks.forEach((message, ack) -> {
            if (ack.isDone() && store.commitOf(message) > store.durableCommits()) {
                early.add(message);
            }
        });
        // One append at a time, nothing queued behind it.
        for (int i = 0; i < 20; i++) {
            String message = "inline-" + i;
            CompletableFuture<AppendResult> ack = append(i % STREAMS, message);
            acks.put(message, ack);
            assertInstanceOf(AppendResult.Appended.class, ack.get(10, TimeUnit.SECONDS));
            check.run();
        }
        // A burst that queues behind a held flush, then is taken 16 at a time. Pairs of forks in
        // it split a drain into several batches (a fork must see what precedes it committed),
        // which one flush then covers together.
        CountDownLatch queued = holdNextSync();
        for (int i = 0; i < 400; i++) {
            String message = "burst-" + i;
            acks.put(
                    message,
                    i % 40 == 20 || i % 40 == 21
                            ? fork("fork-" + i, i % STREAMS, message)
                            : append(i % STREAMS, message));
        }
        queued.countDown();
        store.beforeSync(check); // every sync first looks for early acknowledgements
        for (var entry : acks.entrySet()) {
            Object result = entry.getValue().get(10, TimeUnit.SECONDS);
            assertTrue(
                    result instanceof AppendResult.Appended || result instanceof CreateResult.Created,
                    entry.getKey() + " was written: " + result);
        }
        check.run();
        assertEquals(java.util.Set.of(), early, "writes acknowledged before a sync covering their commit returned");
        assertTrue(store.mostCommitsPerSync() >= 2, "a flush covered several batches: " + store.mostCommitsPerSync());
    }

    /**
     * A bug (a RuntimeException, not a store failure) in a later batch of one drain fails that
     * batch's commands only: the batch committed before it is in the store, so it is flushed and
     * acknowledged, not answered with an error for a write that is stored.
     */
    @Test
    void aStoreThatTakesNoMoreWritesUntilARestartFailsTheWritersHealth() throws Exception {
        open();
        store.failCommitOf(
                "X", StoreException.needsRestart("injected: the log could not start its next segment", null));
        ExecutionException refused =
                assertThrows(ExecutionException.class, () -> append(0, "X").get(10, TimeUnit.SECONDS));
        assertTrue(
                String.valueOf(refused.getCause().getMessage()).contains("until the server restarts"),
                refused.toString());
        assertEquals(
                StorageHealth.State.FAILED,
                engine.health().state(),
                "failed, not degraded: it does not recover by itself");
        ExecutionException next =
                assertThrows(ExecutionException.class, () -> append(1, "Y").get(10, TimeUnit.SECONDS));
        assertTrue(String.valueOf(next.getCause().getMessage()).contains("until the server restarts"), next.toString());
    }

    @Test
    void aBugInALaterBatchOfADrainFailsOnlyThatBatch() throws Exception {
        open();
        store.failCommitOf("B", new IllegalStateException("injected: a bug while committing"));
        Drain d = appendThenForkBehindAHeldFlush();
        ExecutionException bug = assertThrows(ExecutionException.class, () -> d.b().get(10, TimeUnit.SECONDS));
        assertInstanceOf(IllegalStateException.class, bug.getCause());
        assertInstanceOf(AppendResult.Appended.class, d.c().get(10, TimeUnit.SECONDS));
        assertInstanceOf(
                AppendResult.Appended.class,
                d.a().get(10, TimeUnit.SECONDS),
                "A was committed before B's bug: it is flushed and acknowledged");
        assertTrue(store.commitOf("A") <= store.durableCommits(), "A is durable");
    }

    private CompletableFuture<CreateResult> fork(String path, int stream, String message) {
        return engine.create(new CreateRequest(
                        path,
                        "text/plain",
                        null,
                        null,
                        false,
                        List.of(message.getBytes(StandardCharsets.UTF_8)),
                        new CreateRequest.Fork("s" + stream, null, null)))
                .toCompletableFuture();
    }

    @Test
    void aFailedSyncFailsItsAppendMarksStorageUnwritableAndRefusesLaterWrites() throws Exception {
        open();
        assertInstanceOf(AppendResult.Appended.class, append(0, "before").get(10, TimeUnit.SECONDS));
        store.failSyncs(true);
        assertStorageUnavailable(append(0, "lost"), "the append whose flush failed");
        assertTrue(store.failedSyncs() > 0, "the flush failed");
        assertFalse(engine.health().writable(), "health reports the store as unwritable after a failed flush");
        store.failSyncs(false);
        assertStorageUnavailable(append(1, "later"), "a write after a failed flush, until a restart");
        assertFalse(engine.health().writable(), "still unwritable: the kernel may have dropped what it had");
    }

    @Test
    void aFailedSyncInABurstFailsEveryAppendItCoveredAndEveryLaterOne() throws Exception {
        open();
        CountDownLatch queued = new CountDownLatch(1);
        CountDownLatch syncing = new CountDownLatch(1);
        List<CompletableFuture<AppendResult>> burst = new ArrayList<>();
        List<String> messages = new ArrayList<>();
        store.beforeSync(failAfterFirstSync(syncing, queued));
        for (int i = 0; i < 400; i++) {
            messages.add("burst-" + i);
            burst.add(append(i % STREAMS, "burst-" + i));
            if (i == 0) {
                // the first sync must cover only part of the burst, however slowly the writer wakes
                assertTrue(syncing.await(10, TimeUnit.SECONDS), "the first append's flush started");
            }
        }
        queued.countDown();
        int acknowledged = 0;
        for (int i = 0; i < burst.size(); i++) {
            try {
                burst.get(i).get(10, TimeUnit.SECONDS);
                acknowledged++;
                assertTrue(
                        store.commitOf(messages.get(i)) <= store.durableCommits(),
                        "an acknowledged append was flushed by a sync that succeeded: " + messages.get(i));
            } catch (ExecutionException e) {
                assertRefusedAsUnavailable(e, messages.get(i));
            }
        }
        assertTrue(acknowledged < burst.size(), "the failed flushes failed their appends");
        assertTrue(store.failedSyncs() > 0, "a flush in the burst failed");
        assertFalse(engine.health().writable(), "health reports the store as unwritable");
        assertStorageUnavailable(append(0, "later"), "a write after the failed flush");
    }

    /** The first sync says it started, waits for the burst and succeeds; every later one fails. */
    private Runnable failAfterFirstSync(CountDownLatch syncing, CountDownLatch queued) {
        AtomicBoolean first = new AtomicBoolean(true);
        return () -> {
            if (first.compareAndSet(true, false)) {
                syncing.countDown();
                await(queued);
            } else {
                store.failSyncs(true);
            }
        };
    }

    private static void assertStorageUnavailable(CompletableFuture<AppendResult> ack, String what) throws Exception {
        try {
            AppendResult result = ack.get(10, TimeUnit.SECONDS);
            throw new AssertionError(what + " must fail, but was answered " + result);
        } catch (ExecutionException e) {
            assertRefusedAsUnavailable(e, what);
        }
    }

    private static void assertRefusedAsUnavailable(ExecutionException e, String what) {
        var refused = assertInstanceOf(WriteRejectedException.class, e.getCause(), what);
        assertEquals(WriteRejectedException.Reason.STORAGE_UNAVAILABLE, refused.reason(), what);
    }
}
