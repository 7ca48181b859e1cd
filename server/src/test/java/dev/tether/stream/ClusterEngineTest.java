package dev.tether.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.ProducerTuple;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two engines (nodes) on one shared store: what one acknowledges the other reads, producers stay
 * exactly-once whichever node a retry reaches, racing appends never overlap, and a reader waiting
 * on one node wakes when the other appends, even when the notification is lost.
 */
class ClusterEngineTest {
    private final SharedMemoryStore shared = new SharedMemoryStore();
    private final StreamEngine a = engine();
    private final StreamEngine b = engine();

    private StreamEngine engine() {
        try {
            return new StreamEngine(shared.node(), InstantSource.system(), EngineSettings.defaults());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterEach
    void close() {
        a.close();
        b.close();
    }

    private static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private static CreateResult create(StreamEngine on, String path) throws Exception {
        return get(on.create(new CreateRequest(path, "text/plain", null, null, false, List.of(), null)));
    }

    private static AppendResult append(StreamEngine on, String path, String data, ProducerTuple producer)
            throws Exception {
        return get(on.append(new AppendRequest(
                path, "text/plain", List.of(data.getBytes(StandardCharsets.UTF_8)), false, producer, null)));
    }

    private static List<String> messages(StreamEngine on, String path) throws Exception {
        List<String> out = new ArrayList<>();
        Long from = null;
        while (true) {
            ReadResult.Data d = assertInstanceOf(ReadResult.Data.class, get(on.read(path, from)));
            for (StoredMessage m : d.messages()) {
                out.add(new String(m.data(), StandardCharsets.UTF_8));
            }
            if (d.upToDate()) {
                return out;
            }
            from = d.next();
        }
    }

    @Test
    void whatOneNodeAcknowledgedTheOtherReadsAtOnce() throws Exception {
        assertInstanceOf(CreateResult.Created.class, create(a, "s"));
        assertInstanceOf(AppendResult.Appended.class, append(a, "s", "one", null));
        assertEquals(List.of("one"), messages(b, "s"), "node B reads node A's acknowledged append");
        assertInstanceOf(AppendResult.Appended.class, append(b, "s", "two", null));
        assertEquals(List.of("one", "two"), messages(a, "s"), "and A reads B's");
        assertInstanceOf(DeleteResult.Deleted.class, get(b.delete("s")));
        assertInstanceOf(Rejection.NotFound.class, a.lookup("s"), "a delete on B is seen on A");
        assertInstanceOf(Rejection.NotFound.class, append(a, "s", "three", null), "and A cannot append to it");
    }

    @Test
    void streamIdsAreUniqueAcrossNodes() throws Exception {
        Set<Long> ids = new HashSet<>();
        for (int i = 0; i < 20; i++) {
            StreamEngine on = i % 2 == 0 ? a : b;
            ids.add(assertInstanceOf(CreateResult.Created.class, create(on, "s" + i)).stream()
                    .id());
        }
        assertEquals(20, ids.size(), "every stream got its own id: " + ids);
    }

    @Test
    void aProducerStaysExactlyOnceWhicheverNodeItsRetryReaches() throws Exception {
        create(a, "s");
        assertInstanceOf(AppendResult.Appended.class, append(a, "s", "x0", new ProducerTuple("p", 0, 0)));
        assertInstanceOf(
                AppendResult.Duplicate.class,
                append(b, "s", "x0", new ProducerTuple("p", 0, 0)),
                "B knows what A accepted");
        assertInstanceOf(AppendResult.Appended.class, append(b, "s", "x1", new ProducerTuple("p", 0, 1)));
        assertInstanceOf(AppendResult.Duplicate.class, append(a, "s", "x1", new ProducerTuple("p", 0, 1)));
        assertInstanceOf(Rejection.SequenceGap.class, append(a, "s", "x3", new ProducerTuple("p", 0, 3)));
        assertInstanceOf(AppendResult.Appended.class, append(b, "s", "y0", new ProducerTuple("p", 1, 0)));
        assertInstanceOf(
                Rejection.StaleEpoch.class,
                append(a, "s", "x2", new ProducerTuple("p", 0, 2)),
                "an epoch bumped on B fences the old one on A");
        assertEquals(List.of("x0", "x1", "y0"), messages(a, "s"));
    }

    @Test
    void aRefusalDecidedOnAStaleViewIsCheckedAgainstTheStore() throws Exception {
        create(a, "s");
        append(a, "s", "x0", new ProducerTuple("p", 0, 0));
        append(b, "s", "x0", new ProducerTuple("p", 0, 0)); // B now holds the producer at seq 0
        append(a, "s", "x1", new ProducerTuple("p", 0, 1));
        b.lookup("s"); // B's record of the stream is current, its producer state (writer-side) is not
        assertInstanceOf(
                AppendResult.Appended.class,
                append(b, "s", "x2", new ProducerTuple("p", 0, 2)),
                "seq 2 follows seq 1 in the store, though B last saw seq 0 (not a gap)");
        assertEquals(List.of("x0", "x1", "x2"), messages(b, "s"));
    }

    @Test
    void aCloseOnOneNodeRefusesAnAppendDecidedOnTheOther() throws Exception {
        create(a, "s");
        append(b, "s", "first", null); // B has the stream cached, open
        assertInstanceOf(
                AppendResult.Appended.class, get(a.append(new AppendRequest("s", null, List.of(), true, null, null))));
        assertInstanceOf(Rejection.StreamClosed.class, append(b, "s", "late", null));
        assertEquals(List.of("first"), messages(b, "s"));
    }

    @Test
    void racingAppendsFromTwoNodesNeitherOverlapNorGetLost() throws Exception {
        create(a, "s");
        int perNode = 300;
        List<CompletableFuture<AppendResult>> pending = new ArrayList<>();
        for (int i = 0; i < perNode; i++) {
            for (StreamEngine on : List.of(a, b)) {
                String m = (on == a ? "a" : "b") + i + ";";
                pending.add(on.append(new AppendRequest(
                                "s", "text/plain", List.of(m.getBytes(StandardCharsets.UTF_8)), false, null, null))
                        .toCompletableFuture());
            }
        }
        for (CompletableFuture<AppendResult> f : pending) {
            assertInstanceOf(AppendResult.Appended.class, f.get(30, TimeUnit.SECONDS));
        }
        List<String> read = messages(b, "s");
        assertEquals(2 * perNode, read.size(), "every acknowledged append is there once");
        assertEquals(2 * perNode, new HashSet<>(read).size(), "and none twice");
        List<String> fromA = read.stream().filter(m -> m.startsWith("a")).toList();
        for (int i = 0; i < perNode; i++) {
            assertEquals("a" + i + ";", fromA.get(i), "one node's appends keep their order");
        }
        assertEquals(read, messages(a, "s"), "both nodes read the same log");
    }

    /** A third node, on a clock of the test's, that creates {@code path} with a TTL of 2 s. */
    private StreamEngine createdWithTtl(AtomicLong clock, String path) throws Exception {
        StreamEngine c =
                new StreamEngine(shared.node(), () -> Instant.ofEpochMilli(clock.get()), EngineSettings.defaults());
        assertInstanceOf(
                CreateResult.Created.class,
                get(c.create(new CreateRequest(path, "text/plain", 2L, null, false, List.of(), null))));
        return c;
    }

    @Test
    void aNodeDoesNotExpireAStreamAnotherNodeRenewedAfterItLooked() throws Exception {
        // Node C's clock runs 2.5 s ahead of the stream's creation; its view has no renewal.
        long created = System.currentTimeMillis() - 1000;
        AtomicLong clockC = new AtomicLong(created);
        try (StreamEngine c = createdWithTtl(clockC, "ttl")) {
            // C's sweep (its own, once a second, or the one asked for below) refreshes its view and
            // finds the stream expired; before its commit reaches the store, a read on node B renews
            // the stream. The hook is set before C's clock moves, so whichever sweep commits meets it.
            CountDownLatch renewed = new CountDownLatch(1);
            shared.beforeNextCommit.set(() -> {
                try {
                    assertInstanceOf(ReadResult.Data.class, get(b.read("ttl", ReadFrom.TAIL)));
                    renewed.countDown();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            clockC.set(created + 2500);
            assertEquals(0, get(c.sweepExpired()), "the sweep expired nothing");
            assertTrue(renewed.await(0, TimeUnit.SECONDS), "B's read ran between C's decision and its commit");
            assertInstanceOf(Lookup.Found.class, a.lookup("ttl"), "the stream B renewed is still there");
            assertInstanceOf(Lookup.Found.class, c.lookup("ttl"), "and C sees B's renewal now");
        }
    }

    @Test
    void aSweepReadsEveryStreamItWouldExpireInOneRoundTrip() throws Exception {
        long created = System.currentTimeMillis() - 1500;
        AtomicLong clockC = new AtomicLong(created);
        try (StreamEngine c = createdWithTtl(clockC, "t0")) {
            for (int i = 1; i < 5; i++) {
                assertInstanceOf(
                        CreateResult.Created.class,
                        get(c.create(new CreateRequest("t" + i, "text/plain", 2L, null, false, List.of(), null))));
            }
            for (int i = 0; i < 3; i++) {
                assertInstanceOf(ReadResult.Data.class, get(b.read("t" + i, ReadFrom.TAIL)), "B's read renews t" + i);
            }
            clockC.set(created + 2500); // all five look expired to C; t0..t2 are not, since B's reads
            get(c.sweepExpired()); // or C's own sweep, once a second, did it first
            assertTrue(
                    shared.byIdReads.contains(5), "one read for the five streams, not one each: " + shared.byIdReads);
            for (int i = 0; i < 3; i++) {
                assertInstanceOf(Lookup.Found.class, a.lookup("t" + i), "t" + i + " was renewed on B");
            }
            for (int i = 3; i < 5; i++) {
                assertInstanceOf(Rejection.class, a.lookup("t" + i), "t" + i + " expired");
            }
        }
    }

    @Test
    void anAppendOnOneNodeFindsAStreamKeptAliveByReadsOnAnother() throws Exception {
        long created = System.currentTimeMillis() - 1500;
        AtomicLong clockC = new AtomicLong(created);
        try (StreamEngine c = createdWithTtl(clockC, "kept")) {
            assertInstanceOf(ReadResult.Data.class, get(b.read("kept", ReadFrom.TAIL)), "B's read renews it");
            clockC.set(created + 2500); // past the TTL as C last saw it, within it since B's read
            assertInstanceOf(
                    AppendResult.Appended.class,
                    append(c, "kept", "still here", null),
                    "C's append is decided again on the renewal, not refused on its stale view");
            assertEquals(List.of("still here"), messages(a, "kept"));
        }
    }

    @Test
    void aReaderWaitingOnOneNodeWakesWhenTheOtherAppends() throws Exception {
        create(a, "s");
        assertWakes(() -> append(b, "s", "hello", null));
    }

    @Test
    void aLostNotificationDelaysTheWakeUpButDoesNotLoseIt() throws Exception {
        create(a, "s");
        shared.loseNotifications = true;
        assertWakes(() -> append(b, "s", "hello", null));
    }

    @Test
    void aCatchUpReadsAllOfAnotherNodesNewMessagesIntoTheWindowNotOnlyAWindowsWorth() throws Exception {
        create(b, "s");
        StreamRecord before = assertInstanceOf(Lookup.Found.class, b.lookup("s")).stream();
        List<byte[]> messages = new ArrayList<>();
        for (int i = 0; i < 40; i++) { // 20 KiB in one commit: more than a window holds
            messages.add(Integer.toString(i % 10).repeat(512).getBytes(StandardCharsets.UTF_8));
        }
        get(b.append(new AppendRequest("s", "text/plain", messages, false, null, null)));
        StreamRecord after = assertInstanceOf(Lookup.Found.class, b.lookup("s")).stream();
        assertEquals(40 * 512, after.tail());
        // Another node's view of the stream, from before the append, with a reader waiting on it.
        int window = EngineSettings.DEFAULT_RECENT_WINDOW_BYTES;
        StreamRegistry registry = new StreamRegistry(window, new MemoryBudget(1 << 20));
        StreamState s = registry.adopt(before);
        s.watchers.add(() -> {});
        try (RegistrySync sync = new RegistrySync(shared.node(), registry, InstantSource.system(), window)) {
            sync.catchUp(s, after);
        }
        assertEquals(after.tail(), s.recent.end(), "the window reaches the tail, so its readers there read memory");
    }

    private void assertWakes(Callable append) throws Exception {
        StreamRecord r = assertInstanceOf(Lookup.Found.class, a.lookup("s")).stream();
        CountDownLatch woke = new CountDownLatch(1);
        a.watch(r, r.tail(), woke::countDown);
        assertEquals(1, woke.getCount(), "nothing has moved yet");
        append.call();
        assertTrue(
                woke.await(5 * RegistrySync.POLL_MILLIS, TimeUnit.MILLISECONDS),
                "the reader on A woke after B's append");
        assertNotEquals(
                r.tail(),
                assertInstanceOf(Lookup.Found.class, a.lookup("s")).stream().tail());
    }

    private interface Callable {
        void call() throws Exception;
    }
}
