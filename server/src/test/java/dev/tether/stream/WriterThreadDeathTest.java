package dev.tether.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.sqlite.SqliteStreamStore;
import dev.tether.testing.ManualClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 10 of the outside probe: an OutOfMemoryError killed the writer thread, the process
 * stayed up, health said writable, and every write hung until restart. A dead writer thread
 * must fail what it held, turn health to FAILED, and make later writes fail at once.
 */
@Timeout(60) // a regression here is a hang: fail instead of blocking the build
class WriterThreadDeathTest {
    @TempDir
    Path dir;

    private RecordingStore store;
    private StreamEngine engine;

    @BeforeEach
    void open() throws Exception {
        store = new RecordingStore(SqliteStreamStore.open(dir, null));
        engine = new StreamEngine(
                store,
                new ManualClock(1_800_000_000_000L),
                EngineSettings.defaults().withMaxBatch(16));
        CreateResult created = engine.create(new CreateRequest("s", "text/plain", null, null, false, List.of(), null))
                .toCompletableFuture()
                .get(10, TimeUnit.SECONDS);
        assertInstanceOf(CreateResult.Created.class, created);
    }

    @AfterEach
    void close() {
        // A regression leaves a writer waiting forever for a flush; report it instead of hanging.
        assertTimeoutPreemptively(Duration.ofSeconds(30), engine::close, "the engine closes");
    }

    private CompletableFuture<AppendResult> append(String message) {
        return engine.append(new AppendRequest(
                        "s", "text/plain", List.of(message.getBytes(StandardCharsets.UTF_8)), false, null, null))
                .toCompletableFuture();
    }

    @Test
    void aWriterThreadKilledByAnErrorFailsItsWriteReportsFailedAndRefusesLaterWritesAtOnce() throws Exception {
        assertInstanceOf(AppendResult.Appended.class, append("before").get(10, TimeUnit.SECONDS));
        store.throwOnCommit(new OutOfMemoryError("simulated: Java heap space"));
        assertRefused(append("doomed"), "the write the writer held when it died");
        assertFailedHealth("writer thread");
        CompletableFuture<AppendResult> later = append("later");
        assertTrue(later.isDone(), "a write to a dead writer is refused at once, not queued");
        assertRefused(later, "a later write");
        CompletableFuture<CreateResult> create = engine.create(
                        new CreateRequest("t", "text/plain", null, null, false, List.of(), null))
                .toCompletableFuture();
        assertTrue(create.isDone(), "a create is refused at once too");
    }

    @Test
    void anErrorDuringAFlushKillsTheWriterFailsTheWritesItHeldAndRefusesLaterWrites() throws Exception {
        // The flush runs on the writer thread: an Error there ends the writer with the batch
        // committed and not yet durable, which must be refused, not left waiting.
        assertInstanceOf(AppendResult.Appended.class, append("before").get(10, TimeUnit.SECONDS));
        store.throwOnSync(new OutOfMemoryError("simulated: Java heap space"));
        assertRefused(append("doomed"), "the write whose flush died");
        assertFailedHealth("writer thread");
        CompletableFuture<AppendResult> later = append("later");
        assertTrue(later.isDone(), "a later write is refused at once");
        assertRefused(later, "a later write");
    }

    private void assertFailedHealth(String cause) {
        StorageHealth health = engine.health();
        assertEquals(StorageHealth.State.FAILED, health.state(), "health sees the dead thread: " + health);
        assertTrue(health.detail().contains(cause), "health says which thread: " + health.detail());
    }

    private static void assertRefused(Object result, String what) throws Exception {
        Throwable failure = null;
        if (result instanceof CompletableFuture<?> f) {
            try {
                f.get(10, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                failure = e.getCause();
            }
        }
        var refused = assertInstanceOf(WriteRejectedException.class, failure, what + " is refused: " + result);
        assertEquals(WriteRejectedException.Reason.STORAGE_UNAVAILABLE, refused.reason(), what);
        assertTrue(refused.getMessage().contains("restart"), "the refusal says a restart is needed: " + refused);
    }
}
