package dev.tether.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.StreamRecord;
import dev.tether.store.sqlite.SqliteStreamStore;
import dev.tether.testing.ManualClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Offsets carry the incarnation that issued them: sorting along fork chains, and the unscoped offsets of old streams. */
class OffsetScopeTest {
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

    private static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private StreamRecord create(String path, CreateRequest.Fork fork, String data) throws Exception {
        List<byte[]> initial = data == null ? List.of() : List.of(data.getBytes(StandardCharsets.UTF_8));
        var created = get(engine.create(new CreateRequest(path, "text/plain", null, null, false, initial, fork)));
        return assertInstanceOf(CreateResult.Created.class, created).stream();
    }

    private StreamRecord append(String path, String data) throws Exception {
        var appended = get(engine.append(new AppendRequest(
                path, "text/plain", List.of(data.getBytes(StandardCharsets.UTF_8)), false, null, null)));
        return assertInstanceOf(AppendResult.Appended.class, appended).stream();
    }

    /** Durable Streams §6: for any two valid offsets of a stream, string order is stream order. */
    @Test
    void offsetsAlongAForkChainSortInStreamOrder() throws Exception {
        StreamRecord a = create("a", null, "aaaa");
        create("b", new CreateRequest.Fork("a", Offset.tail(a), null), null);
        StreamRecord b = append("b", "bbbb");
        create("c", new CreateRequest.Fork("b", Offset.tail(b), null), null);
        StreamRecord c = append("c", "cccc");
        // Every offset valid on c: those c hands out, and those a and b handed out below the fork points.
        List<Offset> valid = new java.util.ArrayList<>();
        for (long p = 0; p <= c.tail(); p++) {
            valid.add(engine.offsetOf(c, p));
            if (p <= b.tail()) {
                valid.add(engine.offsetOf(b, p));
            }
            if (p <= a.tail()) {
                valid.add(engine.offsetOf(a, p));
            }
        }
        valid.sort(java.util.Comparator.comparing(Offset::toString));
        for (int i = 1; i < valid.size(); i++) {
            assertTrue(
                    valid.get(i - 1).position() <= valid.get(i).position(),
                    valid.get(i - 1) + " sorts before " + valid.get(i) + " but lies after it");
        }
        assertEquals(a.id(), engine.offsetOf(c, 2).incarnation(), "inherited bytes carry the source's incarnation");
        var fromA = assertInstanceOf(
                ReadResult.Data.class,
                get(engine.read("c", new ReadFrom.At(new Offset(a.id(), 2)))),
                "an offset of the source of the source reads the fork");
        assertEquals("aabbbbcccc", new String(concat(fromA), StandardCharsets.UTF_8));
    }

    private static byte[] concat(ReadResult.Data d) {
        var out = new java.io.ByteArrayOutputStream();
        d.messages().forEach(m -> out.writeBytes(m.data()));
        return out.toByteArray();
    }

    /**
     * Servers before incarnations handed out {@code 0000000000000000_…}; clients may have kept
     * them, and the protocol says offsets stay valid for the stream's lifetime (§6).
     */
    @Test
    void unscopedOffsetsStillReadStreamsCreatedBeforeIncarnationsButNoNewOnes() throws Exception {
        create("old", null, "before the upgrade");
        engine.close();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("tether.db"));
                Statement st = c.createStatement()) {
            // As an upgraded database records it: every stream so far predates scoped offsets.
            st.executeUpdate(
                    "UPDATE meta SET value = (SELECT max(id) + 1 FROM streams) WHERE key = 'scoped_offsets_from'");
        }
        open();
        var old = assertInstanceOf(ReadResult.Data.class, get(engine.read("old", new ReadFrom.At(new Offset(0, 7)))));
        assertEquals("the upgrade", new String(concat(old), StandardCharsets.UTF_8));
        create("new", null, "after the upgrade");
        assertInstanceOf(
                Rejection.Gone.class,
                get(engine.read("new", new ReadFrom.At(new Offset(0, 6)))),
                "a stream created since has never handed out an unscoped offset");
        assertInstanceOf(
                ReadResult.Data.class,
                get(engine.read("new", new ReadFrom.At(Offset.ZERO))),
                "the start is the start of every stream");
    }
}
