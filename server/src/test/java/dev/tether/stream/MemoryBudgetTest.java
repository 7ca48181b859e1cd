package dev.tether.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord.ProducerTuple;
import dev.tether.store.sqlite.SqliteStreamStore;
import dev.tether.testing.ManualClock;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 10 of the outside probe: every stream kept its last message in memory, however large,
 * with no overall cap, and producer ids were held forever. One budget now covers writes in
 * flight and producer state (refused when full) and the recent windows (evicted when full).
 */
class MemoryBudgetTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private StreamEngine engine;

    private void open(long budget) throws Exception {
        engine = new StreamEngine(
                SqliteStreamStore.open(dir, null),
                new ManualClock(1_800_000_000_000L),
                EngineSettings.defaults().withMaxMemoryBytes(budget));
    }

    @AfterEach
    void close() {
        engine.close();
    }

    private static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private static byte[] filled(int size, int value) {
        byte[] b = new byte[size];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private CreateResult create(String path, byte[] data) throws Exception {
        List<byte[]> initial = data == null ? List.of() : List.of(data);
        return get(
                engine.create(new CreateRequest(path, "application/octet-stream", null, null, false, initial, null)));
    }

    private byte[] readAll(String path) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Long from = null;
        while (true) {
            var d = assertInstanceOf(ReadResult.Data.class, get(engine.read(path, from)));
            for (StoredMessage m : d.messages()) {
                out.write(m.data());
            }
            if (d.upToDate()) {
                return out.toByteArray();
            }
            from = d.next();
        }
    }

    @Test
    void recentWindowsShrinkLeastRecentlyUsedFirstAndReadersFallBackToTheStore() throws Exception {
        open(4L * MIB);
        for (int i = 0; i < 20; i++) {
            assertInstanceOf(CreateResult.Created.class, create("big-" + i, filled(MIB, i)));
            long held = engine.memory().pinned() + engine.memory().cached();
            assertTrue(held <= 4L * MIB, "windows stay within the budget, 20 MiB of 1 MiB messages or not: " + held);
        }
        assertTrue(engine.memory().cached() >= MIB, "the newest stream's window is kept");
        for (int i = 0; i < 20; i++) {
            assertArrayEquals(filled(MIB, i), readAll("big-" + i), "evicted windows are read from the store");
        }
        assertEquals(0, engine.memory().pinned(), "nothing stays pinned once every write is answered");
    }

    @Test
    void aWriteLargerThanTheRoomLeftIsRefusedWithMemoryFullAndHoldsNothing() throws Exception {
        open(2L * MIB);
        create("s", null);
        assertTrue(engine.memory().tryReserve(MIB + MIB / 2), "a large body is being received");
        ExecutionException refused = org.junit.jupiter.api.Assertions.assertThrows(
                ExecutionException.class,
                () -> get(engine.append(new AppendRequest(
                        "s", "application/octet-stream", List.of(new byte[MIB]), false, null, null))));
        var memoryFull = assertInstanceOf(WriteRejectedException.class, refused.getCause());
        assertEquals(WriteRejectedException.Reason.MEMORY_FULL, memoryFull.reason());
        assertTrue(memoryFull.getMessage().contains("memory"), memoryFull.getMessage());
        engine.memory().release(MIB + MIB / 2);
        assertInstanceOf(
                AppendResult.Appended.class,
                get(engine.append(
                        new AppendRequest("s", "application/octet-stream", List.of(new byte[MIB]), false, null, null))),
                "the same write fits once the body is gone");
        assertEquals(0, engine.memory().pinned(), "the refused and the accepted write both gave their bytes back");
    }

    @Test
    void newProducerIdsAreRefusedWhenTheBudgetIsFullAndTheirStateIsGivenBackWithTheStream() throws Exception {
        open(MIB);
        create("s", null);
        AppendResult first = append("p1", 0);
        assertInstanceOf(AppendResult.Appended.class, first);
        long oneProducer = engine.memory().pinned();
        assertTrue(oneProducer > 0, "producer state counts against the budget");
        assertTrue(engine.memory().tryReserve(MIB - oneProducer - 16), "bodies fill the rest");
        ExecutionException refused =
                org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, () -> append("p2", 0));
        assertEquals(
                WriteRejectedException.Reason.MEMORY_FULL,
                assertInstanceOf(WriteRejectedException.class, refused.getCause())
                        .reason(),
                "a new producer id is refused while memory is full");
        assertInstanceOf(
                Rejection.SequenceGap.class,
                append("p3", 5),
                "an unknown producer starting past seq 0 is still the client's gap, full memory or not");
        assertInstanceOf(AppendResult.Appended.class, append("p1", 1), "a known producer goes on");
        engine.memory().release(MIB - oneProducer - 16);
        assertInstanceOf(DeleteResult.Deleted.class, get(engine.delete("s")));
        assertEquals(0, engine.memory().pinned(), "deleting the stream gives its producer state back");
    }

    private AppendResult append(String producer, long seq) throws Exception {
        return get(engine.append(new AppendRequest(
                "s",
                "application/octet-stream",
                List.of(new byte[] {1}),
                false,
                new ProducerTuple(producer, 0, seq),
                null)));
    }
}
