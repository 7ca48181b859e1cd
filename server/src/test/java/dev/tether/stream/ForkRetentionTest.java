package dev.tether.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamStore;
import dev.tether.store.log.LogStreamStore;
import dev.tether.store.sqlite.SqliteStreamStore;
import dev.tether.testing.ManualClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A fork that retention trims past its fork point reads only its own data from then on, so it no
 * longer holds its source (Durable Streams §4.2): a deleted source goes, its path is free again,
 * and a live one can be deleted outright, before and after a restart.
 */
class ForkRetentionTest {
    @TempDir
    Path dir;

    private final ManualClock clock = new ManualClock(1_800_000_000_000L);
    private StreamEngine engine;

    private void open(String store) throws StoreException {
        StreamStore s = store.equals("log") ? LogStreamStore.open(dir, null) : SqliteStreamStore.open(dir, null);
        engine = new StreamEngine(s, clock, EngineSettings.defaults().withRetainBytes(64));
    }

    private void reopen(String store) throws StoreException {
        engine.close();
        open(store);
    }

    @AfterEach
    void close() {
        if (engine != null) {
            engine.close();
        }
    }

    private static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private CreateResult create(String path, CreateRequest.Fork fork) throws Exception {
        return get(engine.create(new CreateRequest(path, "text/plain", null, null, false, List.of(), fork)));
    }

    private void append(String path, String text) throws Exception {
        assertInstanceOf(
                AppendResult.Appended.class,
                get(engine.append(new AppendRequest(
                        path, "text/plain", List.of(text.getBytes(StandardCharsets.UTF_8)), false, null, null))));
    }

    private String readAll(String path) throws Exception {
        ReadResult.Data d = assertInstanceOf(ReadResult.Data.class, get(engine.read(path, ReadFrom.START)));
        StringBuilder out = new StringBuilder();
        for (StoredMessage m : d.messages()) {
            out.append(new String(m.data(), StandardCharsets.UTF_8));
        }
        return out.toString();
    }

    /** Source "src" with 10 bytes, fork "fork" at its tail, then 100 bytes of the fork's own (5 × 20). */
    private void sourceAndFork() throws Exception {
        assertInstanceOf(CreateResult.Created.class, create("src", null));
        append("src", "0123456789");
        assertInstanceOf(CreateResult.Created.class, create("fork", new CreateRequest.Fork("src", null, null)));
        for (int i = 0; i < 5; i++) {
            append("fork", ("own" + i).repeat(5));
        }
        assertEquals("0123456789" + "own0".repeat(5), readAll("fork").substring(0, 30), "inherits, untrimmed");
    }

    /** Runs retention: the fork keeps its last 64 bytes' whole messages, past its fork point (at 10). */
    private void trim() throws Exception {
        get(engine.sweepExpired());
        assertEquals("own2".repeat(5) + "own3".repeat(5) + "own4".repeat(5), readAll("fork"), "trimmed");
    }

    @ParameterizedTest
    @ValueSource(strings = {"log", "sqlite"})
    void aDeletedSourceGoesOnceItsForkIsTrimmedPastTheForkPoint(String store) throws Exception {
        open(store);
        sourceAndFork();
        assertInstanceOf(DeleteResult.Deleted.class, get(engine.delete("src")));
        assertInstanceOf(Rejection.Gone.class, get(engine.read("src", ReadFrom.START)), "kept for its fork");
        trim();
        assertInstanceOf(
                Rejection.NotFound.class,
                get(engine.read("src", ReadFrom.START)),
                "no fork reads the deleted source any more: it is gone, its path free");
        assertInstanceOf(CreateResult.Created.class, create("src", null));
        reopen(store);
        assertEquals("own2".repeat(5) + "own3".repeat(5) + "own4".repeat(5), readAll("fork"));
        assertEquals("", readAll("src"), "the new stream at the path");
    }

    @ParameterizedTest
    @ValueSource(strings = {"log", "sqlite"})
    void aLiveSourceWhoseForkWasTrimmedPastTheForkPointIsDeletedOutright(String store) throws Exception {
        open(store);
        sourceAndFork();
        trim();
        reopen(store); // the references are counted again from the records
        assertInstanceOf(DeleteResult.Deleted.class, get(engine.delete("src")));
        assertInstanceOf(
                Rejection.NotFound.class,
                get(engine.read("src", ReadFrom.START)),
                "no fork reads it: deleted, not kept as gone");
        assertInstanceOf(CreateResult.Created.class, create("src", null));
    }
}
