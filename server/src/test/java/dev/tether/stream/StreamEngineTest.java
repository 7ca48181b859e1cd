package dev.tether.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord.ProducerTuple;
import dev.tether.store.sqlite.SqliteStreamStore;
import dev.tether.testing.HeldWriter;
import dev.tether.testing.ManualClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine over a real SQLite store: durability, producers, closure, forks, TTL. */
class StreamEngineTest {
    @TempDir
    Path dir;

    private final ManualClock clock = new ManualClock(1_800_000_000_000L);
    private StreamEngine engine;

    @BeforeEach
    void open() throws Exception {
        engine = new StreamEngine(SqliteStreamStore.open(dir, null), clock, EngineSettings.defaults());
    }

    @AfterEach
    void close() {
        engine.close();
    }

    private void reopen() throws Exception {
        engine.close();
        open();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static <T> T get(java.util.concurrent.CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private CreateResult create(String path, String type) throws Exception {
        return get(engine.create(new CreateRequest(path, type, null, null, false, List.of(), null)));
    }

    private AppendResult append(String path, String data, ProducerTuple producer) throws Exception {
        return get(engine.append(new AppendRequest(path, "text/plain", List.of(bytes(data)), false, producer, null)));
    }

    private String readAll(String path) throws Exception {
        StringBuilder out = new StringBuilder();
        Long from = null;
        while (true) {
            ReadResult r = get(engine.read(path, from));
            ReadResult.Data d = assertInstanceOf(ReadResult.Data.class, r, "read of " + path + " must succeed");
            for (StoredMessage m : d.messages()) {
                out.append(new String(m.data(), StandardCharsets.UTF_8));
            }
            if (d.upToDate()) {
                return out.toString();
            }
            from = d.next();
        }
    }

    @Test
    void acknowledgedAppendsSurviveReopeningTheStore() throws Exception {
        create("s", "text/plain");
        for (int i = 0; i < 50; i++) {
            assertInstanceOf(AppendResult.Appended.class, append("s", "m" + i + ";", null));
        }
        reopen();
        StringBuilder expected = new StringBuilder();
        for (int i = 0; i < 50; i++) {
            expected.append("m").append(i).append(';');
        }
        assertEquals(expected.toString(), readAll("s"), "every acknowledged append is readable after a restart");
    }

    @Test
    void concurrentAppendsAreAllDurableAndOffsetsAreDistinct() throws Exception {
        create("s", "text/plain");
        List<CompletableFuture<AppendResult>> futures = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            futures.add(engine.append(new AppendRequest("s", "text/plain", List.of(bytes("x")), false, null, null))
                    .toCompletableFuture());
        }
        java.util.Set<Long> tails = new java.util.HashSet<>();
        for (var f : futures) {
            tails.add(assertInstanceOf(AppendResult.Appended.class, f.get(10, TimeUnit.SECONDS)).stream()
                    .tail());
        }
        assertEquals(500, tails.size(), "each append gets its own next offset");
        reopen();
        assertEquals(500, readAll("s").length(), "all 500 group-committed appends are on disk");
    }

    @Test
    void producerStateIsRestoredWithTheData() throws Exception {
        create("s", "text/plain");
        append("s", "a", new ProducerTuple("p", 0, 0));
        append("s", "b", new ProducerTuple("p", 0, 1));
        reopen();
        var dup = assertInstanceOf(
                AppendResult.Duplicate.class,
                append("s", "b", new ProducerTuple("p", 0, 1)),
                "a retry of an acknowledged seq after restart is a duplicate, not a gap");
        assertEquals(1, dup.highestSeq());
        assertInstanceOf(
                AppendResult.Appended.class,
                append("s", "c", new ProducerTuple("p", 0, 2)),
                "the next seq after restart is accepted (no false 409)");
        var gap = assertInstanceOf(Rejection.SequenceGap.class, append("s", "e", new ProducerTuple("p", 0, 4)));
        assertEquals(3, gap.expected());
        assertInstanceOf(
                AppendResult.Appended.class,
                append("s", "d", new ProducerTuple("p", 1, 0)),
                "a new epoch starting at seq 0 is accepted");
        assertInstanceOf(
                Rejection.StaleEpoch.class, append("s", "z", new ProducerTuple("p", 0, 3)), "the old epoch is fenced");
        assertEquals("abcd", readAll("s"));
    }

    @Test
    void closedStreamRejectsAppendsAndStaysClosedAfterRestart() throws Exception {
        create("s", "text/plain");
        append("s", "last", null);
        get(engine.append(new AppendRequest("s", null, List.of(), true, null, null)));
        reopen();
        var closed = assertInstanceOf(Rejection.StreamClosed.class, append("s", "more", null));
        assertEquals(4, closed.stream().tail(), "the rejection reports the final offset");
        ReadResult.Data tail = assertInstanceOf(ReadResult.Data.class, get(engine.read("s", 4L)));
        assertTrue(tail.atEndOfClosedStream(), "a read at the tail of a closed stream is the EOF");
    }

    @Test
    void aDeletedSourceKeptForItsForkStaysDeletedPastItsTtl() throws Exception {
        assertInstanceOf(
                CreateResult.Created.class,
                get(engine.create(new CreateRequest("src", "text/plain", 10L, null, false, List.of(), null))));
        append("src", "hello", null);
        assertInstanceOf(
                CreateResult.Created.class,
                get(engine.create(new CreateRequest(
                        "fork", null, 3_600L, null, false, List.of(), new CreateRequest.Fork("src", null, null)))));
        assertInstanceOf(DeleteResult.Deleted.class, get(engine.delete("src")));
        clock.advanceMillis(11_000); // past the source's TTL, not the fork's
        get(engine.sweepExpired());
        assertInstanceOf(
                Rejection.Gone.class,
                get(engine.read("src", ReadFrom.START)),
                "deleted, kept for its fork: its TTL no longer applies, so it stays 410 as a re-create stays 409");
        assertInstanceOf(Rejection.Conflict.class, create("src", "text/plain"));
        assertInstanceOf(Rejection.Gone.class, get(engine.delete("src")));
        assertEquals("hello", readAll("fork"));
    }

    @Test
    void aForkOfAnExpiredSourceIsNotTheSameForkAsOneOfTheStreamNowAtItsPath() throws Exception {
        assertInstanceOf(
                CreateResult.Created.class,
                get(engine.create(new CreateRequest("src", "text/plain", 10L, null, false, List.of(), null))));
        CreateRequest forkOfSrc = new CreateRequest(
                "fork", null, 3_600L, null, false, List.of(), new CreateRequest.Fork("src", null, null));
        assertInstanceOf(CreateResult.Created.class, get(engine.create(forkOfSrc)));
        assertInstanceOf(CreateResult.Existing.class, get(engine.create(forkOfSrc)), "the same PUT again");
        clock.advanceMillis(11_000); // the source expires; kept, detached, for its fork
        get(engine.sweepExpired());
        assertInstanceOf(CreateResult.Created.class, create("src", "text/plain"), "its path is free again");
        assertInstanceOf(
                Rejection.Conflict.class,
                get(engine.create(forkOfSrc)),
                "the fork is of the old stream at that path, not of the new one");
    }

    @Test
    void forkReadsInheritedDataThenItsOwnAndSurvivesSourceDeletion() throws Exception {
        create("src", "text/plain");
        var hello = assertInstanceOf(AppendResult.Appended.class, append("src", "hello ", null));
        var fork = get(engine.create(new CreateRequest(
                "fork",
                null,
                null,
                null,
                false,
                List.of(),
                new CreateRequest.Fork("src", Offset.tail(hello.stream()), null))));
        assertInstanceOf(CreateResult.Created.class, fork);
        append("src", "never-in-fork", null);
        append("fork", "world", null);
        assertInstanceOf(DeleteResult.Deleted.class, get(engine.delete("src")));
        assertInstanceOf(
                Rejection.Gone.class, get(engine.read("src", ReadFrom.START)), "a deleted source with forks is gone");
        reopen();
        assertEquals("hello world", readAll("fork"), "the fork keeps the source's data after the source is deleted");
        assertInstanceOf(
                Rejection.Conflict.class,
                create("src", "text/plain"),
                "a soft-deleted path cannot be re-created while forks use it");
        assertInstanceOf(DeleteResult.Deleted.class, get(engine.delete("fork")));
        assertInstanceOf(
                CreateResult.Created.class,
                create("src", "text/plain"),
                "deleting the last fork frees the source's path");
    }

    @Test
    void slidingTtlExpiresIdleStreamsAndReadsRenewIt() throws Exception {
        get(engine.create(new CreateRequest("t", "text/plain", 10L, null, false, List.of(), null)));
        clock.advanceMillis(8_000);
        readAll("t");
        clock.advanceMillis(8_000);
        assertInstanceOf(Lookup.Found.class, engine.lookup("t"), "a read 8 s ago renewed the 10 s TTL");
        clock.advanceMillis(3_000);
        assertInstanceOf(Rejection.NotFound.class, engine.lookup("t"), "11 s idle is past the TTL");
        assertInstanceOf(
                CreateResult.Created.class, create("t", "application/json"), "an expired path is re-creatable");
    }

    @Test
    void watchersWakeOnAppendAndOnClose() throws Exception {
        create("s", "text/plain");
        var record = ((Lookup.Found) engine.lookup("s")).stream();
        CountDownLatch woke = new CountDownLatch(1);
        engine.watch(record, 0, woke::countDown);
        append("s", "x", null);
        assertTrue(woke.await(5, TimeUnit.SECONDS), "an append wakes a watcher at the old tail");
        var after = ((Lookup.Found) engine.lookup("s")).stream();
        CountDownLatch closed = new CountDownLatch(1);
        engine.watch(after, after.tail(), closed::countDown);
        get(engine.append(new AppendRequest("s", null, List.of(), true, null, null)));
        assertTrue(closed.await(5, TimeUnit.SECONDS), "closing wakes watchers at the tail");
    }

    /**
     * A reader that registers once the writer has its answer (a client reading right after its
     * create) has seen the write: the write's own wake-up, which runs after the answer, must not
     * reach it (an SSE tail sent a second control event for it, and a conformance test counts them).
     */
    @Test
    void aWatcherRegisteredAfterTheAnswerIsNotWokenByThatWrite() throws Exception {
        create("s", "text/plain");
        // With the writer held, the next write is still queued when its answer gets a dependent:
        // the dependent then runs on the writer thread, inside the answer, as a client's request
        // would arrive between the answer and the wake-up.
        CountDownLatch release = new CountDownLatch(1);
        HeldWriter.hold(engine, "gate", release);
        CountDownLatch woke = new CountDownLatch(1);
        CompletableFuture<Long> registeredAt = engine.append(
                        new AppendRequest("s", "text/plain", List.of(bytes("x")), false, null, null))
                .thenApply(r -> {
                    var now = ((Lookup.Found) engine.lookup("s")).stream();
                    engine.watch(now, now.tail(), woke::countDown);
                    return now.tail();
                })
                .toCompletableFuture();
        release.countDown();
        assertEquals(1L, get(registeredAt), "registered at the new tail, on the writer thread");
        append("gate", "h", null); // the writer has finished the write's wake-up before it takes this one
        assertEquals(1, woke.getCount(), "the write the reader has seen does not wake it");
        append("s", "y", null);
        assertTrue(woke.await(5, TimeUnit.SECONDS), "the next write does");
    }

    @Test
    void retentionDropsOldestWholeMessagesAndReadsBelowGet410() throws Exception {
        engine.close();
        engine = new StreamEngine(
                SqliteStreamStore.open(dir, null),
                clock,
                EngineSettings.defaults().withRetainBytes(250));
        create("r", "text/plain");
        for (int i = 0; i < 10; i++) {
            append("r", Integer.toString(i).repeat(100), null);
        }
        get(engine.sweepExpired());
        ReadResult.Data fromStart = assertInstanceOf(ReadResult.Data.class, get(engine.read("r", ReadFrom.START)));
        assertEquals(800, fromStart.from(), "at most 250 bytes of whole messages are kept: the newest two");
        assertEquals("8".repeat(100) + "9".repeat(100), readAll("r"));
        var gone = assertInstanceOf(Rejection.Gone.class, get(engine.read("r", 0L)), "offsets below retention are 410");
        assertTrue(gone.message().contains("earliest readable offset"), gone.message());
        reopen();
        assertInstanceOf(Rejection.Gone.class, get(engine.read("r", 700L)), "retention is durable");
        assertEquals(200, readAll("r").length());
    }

    @Test
    void binaryReadsMayStartInsideAStoredAppend() throws Exception {
        create("s", "application/octet-stream");
        get(engine.append(new AppendRequest(
                "s", "application/octet-stream", List.of(new byte[] {1, 2, 3, 4}), false, null, null)));
        ReadResult.Data d = assertInstanceOf(ReadResult.Data.class, get(engine.read("s", 2L)));
        assertArrayEquals(new byte[] {3, 4}, d.messages().get(0).data(), "byte offsets address bytes");
    }

    @Test
    void aBusyStreamKeepsItsNewestEightKibInMemoryAndReadsTheRestFromTheStore() throws Exception {
        create("busy", "text/plain");
        for (int i = 0; i < 100; i++) {
            append("busy", Integer.toString(i % 10).repeat(256), null);
        }
        // A window is young memory that every young collection copies (EngineSettings): small by default.
        assertEquals(8 * 1024, engine.memory().cached(), "the window holds the newest 32 messages of 256 B");
        StringBuilder all = new StringBuilder();
        for (int i = 0; i < 100; i++) {
            all.append(Integer.toString(i % 10).repeat(256));
        }
        assertEquals(all.toString(), readAll("busy"), "what the window dropped is read from the store");
    }

    /** The writer drops what windows hold for over a second, with no writes coming; readers get it from the store. */
    @Test
    void aWindowLetsGoOfMessagesOlderThanASecond() throws Exception {
        create("slow", "text/plain");
        append("slow", "a".repeat(100), null);
        append("slow", "b".repeat(100), null);
        assertEquals(200, engine.memory().cached());
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (engine.memory().cached() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(0, engine.memory().cached(), "dropped after a second, by the idle writer");
        assertEquals("a".repeat(100) + "b".repeat(100), readAll("slow"));
    }
}
