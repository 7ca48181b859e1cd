package dev.tether.inference.embedded;

import static dev.tether.inference.embedded.Turns.conversation;
import static dev.tether.inference.embedded.Turns.request;
import static dev.tether.inference.embedded.Turns.run;
import static dev.tether.inference.embedded.Turns.waitFor;
import static dev.tether.inference.embedded.Turns.words;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelSink;
import dev.tether.inference.embedded.Turns.Answer;
import dev.tether.testing.ManualClock;
import dev.tether.testing.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The session-pinned KV cache: reuse, eviction under a budget, spill and restore. */
class SessionCacheTest {
    /** Room for one of the sessions below but not two (the tiny model's KV is 512 bytes per token). */
    private static final long ONE_SESSION_BUDGET = 768 * 512;

    @TempDir
    Path dir;

    static EmbeddedBackend start(Path model, long budget, Path spill) throws Exception {
        return EmbeddedBackend.start(settings(model, budget, spill));
    }

    static EmbeddedSettings settings(long budget, Path spill) {
        return settings(TestModels.tiny(), budget, spill);
    }

    static EmbeddedSettings settings(Path model, long budget, Path spill) {
        return new EmbeddedSettings(
                model, false, budget, 0, 8, 256, 2, spill, Duration.ofMinutes(10), 0, 256, Long.MAX_VALUE, null, 1);
    }

    static EmbeddedBackend start(long budget, Path spill) throws Exception {
        return start(TestModels.tiny(), budget, spill);
    }

    private static final String FIRST = words(80, 1);
    private static final String SECOND = words(80, 2);

    private static ModelRequest turn1(String session) {
        return request(session, true, conversation(List.of(FIRST), List.of()), 10);
    }

    private static ModelRequest turn2(String session, Answer first) {
        return request(session, true, conversation(List.of(FIRST, "and then?"), List.of(first.text())), 10);
    }

    @Test
    void aWarmTurnEvaluatesOnlyTheTokensAfterTheCachedPrefix() throws Exception {
        try (EmbeddedBackend engine = start(0, null)) {
            String history = words(300, 3);
            Answer a1 = run(engine, request("s1", true, conversation(List.of(history), List.of()), 12));
            assertEquals(0, a1.cached(), "a new session has nothing cached");
            long before = engine.stats().prefilledTokens();
            List<String> users = List.of(history, "and then?");
            Answer a2 = run(engine, request("s1", true, conversation(users, List.of(a1.text())), 12));
            long prefilled = engine.stats().prefilledTokens() - before;

            assertEquals(a2.input() - a2.cached(), prefilled, "cached_tokens must be exactly what was not evaluated");
            assertTrue(
                    a2.cached() >= a1.input(), "turn 1's whole prompt is reused: " + a2.cached() + " < " + a1.input());
            // What turn 2's prompt adds after turn 1's (ChatML): the answer, its end, the new message.
            String added = a1.text() + "<|im_end|>\n<|im_start|>user\nand then?<|im_end|>\n<|im_start|>assistant\n";
            int newTokens = engine.tokenize(added).length;
            assertTrue(
                    prefilled <= newTokens + 2,
                    "only the new tokens are evaluated: " + prefilled + " for " + newTokens + " new, of " + a2.input());

            Answer cold = run(engine, request("s2", true, conversation(users, List.of(a1.text())), 12));
            assertEquals(0, cold.cached(), "another session has its own cache");
            assertEquals(a2.input(), cold.input());
            assertEquals(cold.text(), a2.text(), "greedy decoding gives the same answer warm and cold");
        }
    }

    @Test
    void theLeastRecentlyUsedSessionIsSpilledAndRestoresAsIfItNeverLeft() throws Exception {
        Answer r1;
        Answer r2;
        try (EmbeddedBackend reference = start(0, null)) {
            r1 = run(reference, turn1("s1"));
            r2 = run(reference, turn2("s1", r1));
        }
        Path spill = dir.resolve("kv");
        try (EmbeddedBackend engine = start(ONE_SESSION_BUDGET, spill)) {
            Answer a1 = run(engine, turn1("s1"));
            run(engine, request("s2", true, conversation(List.of(SECOND), List.of()), 10));
            assertEquals(1, engine.stats().spills(), "s2 needed the room: s1 was spilled");
            assertEquals(1, kvFiles(spill), "one spill file");

            Answer a2 = run(engine, turn2("s1", a1));
            EngineStats stats = engine.stats();
            assertEquals(2, stats.spills(), "s1's return spilled s2");
            assertEquals(1, stats.restores(), "s1 came back from disk");
            assertEquals(r1.text(), a1.text());
            assertEquals(r2.cached(), a2.cached(), "the restored session reuses as much as the resident one");
            assertEquals(r2.text(), a2.text(), "greedy decoding continues exactly as if never evicted");
        }
    }

    @Test
    void spilledStateSurvivesARestart() throws Exception {
        Path spill = dir.resolve("kv");
        Answer a1 = firstTurnThenShutDown(spill);
        assertEquals(1, kvFiles(spill));
        try (EmbeddedBackend engine = start(0, spill)) {
            Answer a2 = run(engine, turn2("s1", a1));
            assertEquals(1, engine.stats().restores());
            assertTrue(a2.cached() >= a1.input(), "the restart kept the cache: " + a2.cached());
        }
    }

    @Test
    void aCorruptSpillFileIsDetectedAndTheTurnRecomputed() throws Exception {
        Path spill = dir.resolve("kv");
        Answer a1 = firstTurnThenShutDown(spill);
        Path file = onlyKvFile(spill);
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 100] ^= 0x5A;
        Files.write(file, bytes);
        try (EmbeddedBackend engine = start(0, spill)) {
            Answer a2 = run(engine, turn2("s1", a1));
            assertEquals(1, engine.stats().restoreFailures(), "the checksum caught it");
            assertEquals(0, engine.stats().restores());
            assertEquals(0, a2.cached(), "nothing reused from a corrupt file");
        }
    }

    @Test
    void aSpillFileFromAnotherModelIsNotRestored() throws Exception {
        Path spill = dir.resolve("kv");
        Answer a1 = firstTurnThenShutDown(spill);
        try (EmbeddedBackend other = start(TestModels.tiny(7), 0, spill)) {
            Answer a2 = run(other, turn2("s1", a1));
            assertEquals(1, other.stats().restoreFailures(), "another model's state is refused");
            assertEquals(0, a2.cached());
        }
    }

    @Test
    void storeFalseSessionsAreDroppedNeverSpilled() throws Exception {
        Path spill = dir.resolve("kv");
        try (EmbeddedBackend engine = start(ONE_SESSION_BUDGET, spill)) {
            run(engine, request("secret", false, conversation(List.of(FIRST), List.of()), 10));
            run(engine, request("other", false, conversation(List.of(SECOND), List.of()), 10));
            assertEquals(1, engine.stats().drops(), "evicted without a spill");
            assertEquals(0, engine.stats().spills());
            assertEquals(0, kvFiles(spill), "nothing of a store:false session reaches disk");
            run(engine, turn1("stored")); // evicts "other" (dropped), then is itself stored
            run(engine, request("other2", false, conversation(List.of(SECOND), List.of()), 10));
            assertEquals(1, kvFiles(spill), "control: a stored session is spilled by the same path");
        }
        assertEquals(1, kvFiles(spill), "closing spills only the stored session");
    }

    @Test
    void forgettingASessionDropsItsKvStateAndItsSpillFile() throws Exception {
        Path spill = dir.resolve("kv");
        try (EmbeddedBackend engine = start(ONE_SESSION_BUDGET, spill)) {
            Answer a1 = run(engine, turn1("s1"));
            run(engine, request("s2", true, conversation(List.of(SECOND), List.of()), 10)); // spills s1
            assertEquals(1, kvFiles(spill));
            assertEquals(kvBytes(spill), engine.spilledKvBytes(), "the gauge counts what is on disk");
            assertTrue(engine.residentKvBytes() > 0, "s2 is resident");

            engine.forget("s1"); // spilled
            engine.forget("s2"); // resident
            waitFor(() -> engine.stats().forgets() == 2);
            assertEquals(0, kvFiles(spill), "s1's spill file is deleted");
            assertEquals(0, engine.spilledKvBytes());
            assertEquals(0, engine.residentKvBytes(), "s2's KV state is dropped");
            assertEquals(1, engine.stats().spills(), "s2 was dropped, not spilled");

            Answer again = run(engine, turn2("s1", a1));
            assertEquals(0, again.cached(), "a forgotten session starts from nothing");
            assertEquals(0, engine.stats().restores());
        }
    }

    @Test
    void aSessionForgottenDuringItsTurnIsDroppedWhenTheTurnEnds() throws Exception {
        Path spill = dir.resolve("kv");
        try (EmbeddedBackend engine = start(0, spill)) {
            CountDownLatch started = new CountDownLatch(1);
            Thread turn = Thread.ofVirtual().start(() -> {
                try {
                    engine.generate(request("s1", true, conversation(List.of(FIRST), List.of()), 3900), text(started));
                } catch (Exception expected) {
                    // cancelled below
                }
            });
            assertTrue(started.await(10, TimeUnit.SECONDS));
            engine.forget("s1");
            waitFor(() -> engine.stats().forgets() == 1);
            assertEquals(1, engine.stats().residentSessions(), "the running turn keeps its state");

            turn.interrupt();
            waitFor(() -> engine.stats().turns() == 1);
            assertEquals(0, engine.stats().residentSessions(), "the state went when the turn ended");
            assertEquals(0, run(engine, turn1("s1")).cached());
            assertEquals(0, kvFiles(spill), "and was never spilled");
        }
    }

    @Test
    void overTheDiskBudgetTheLeastRecentlyWrittenSpillFilesAreDeleted() throws Exception {
        Path spill = dir.resolve("kv");
        firstTurnThenShutDown(spill);
        long oneFile = kvBytes(spill);
        Files.delete(onlyKvFile(spill));
        try (EmbeddedBackend engine =
                EmbeddedBackend.start(settings(ONE_SESSION_BUDGET, spill).withKvDiskBudget(oneFile * 3 / 2))) {
            Answer a1 = run(engine, turn1("s1"));
            run(engine, request("s2", true, conversation(List.of(SECOND), List.of()), 10)); // spills s1
            run(engine, request("s3", true, conversation(List.of(words(80, 3)), List.of()), 10)); // spills s2
            assertEquals(2, engine.stats().spills());
            assertEquals(1, engine.stats().spillsOverBudget(), "two files do not fit: s1's, the older, went");
            assertEquals(1, kvFiles(spill));
            assertEquals(kvBytes(spill), engine.spilledKvBytes());

            run(engine, request("s2", true, conversation(List.of(SECOND), List.of()), 10)); // spills s3
            assertEquals(1, engine.stats().restores(), "s2's file was kept, and kept while s3 was spilled");
            assertEquals(0, run(engine, turn2("s1", a1)).cached(), "s1 recomputes");
        }
    }

    @Test
    void spillFilesOlderThanTheTtlAreDeleted() throws Exception {
        Path spill = dir.resolve("kv");
        firstTurnThenShutDown(spill);
        ManualClock clock = new ManualClock(System.currentTimeMillis());
        try (EmbeddedBackend engine =
                EmbeddedBackend.start(settings(0, spill).withSpillTtl(Duration.ofHours(1)), clock)) {
            assertEquals(1, kvFiles(spill), "a file written just now is kept");
            clock.advanceMillis(Duration.ofHours(2).toMillis());
            waitFor(() -> engine.stats().spillsExpired() == 1);
            assertEquals(0, kvFiles(spill));
            assertEquals(0, engine.spilledKvBytes());
        }
    }

    private static ModelSink text(CountDownLatch started) {
        return new ModelSink() {
            @Override
            public void text(String delta) {
                started.countDown();
            }

            @Override
            public void toolCall(int index, String callId, String name) {}

            @Override
            public void toolArguments(int index, String delta) {}
        };
    }

    private static long kvBytes(Path spill) throws IOException {
        try (Stream<Path> files = Files.list(spill)) {
            long n = 0;
            for (Path p : files.filter(p -> p.toString().endsWith(".kv")).toList()) n += Files.size(p);
            return n;
        }
    }

    /** Runs s1's first turn on an engine that then shuts down, which spills the idle stored session. */
    private static Answer firstTurnThenShutDown(Path spill) throws Exception {
        try (EmbeddedBackend engine = start(0, spill)) {
            return run(engine, turn1("s1"));
        }
    }

    private static long kvFiles(Path spill) throws IOException {
        if (!Files.isDirectory(spill)) return 0;
        try (Stream<Path> files = Files.list(spill)) {
            return files.filter(p -> p.toString().endsWith(".kv")).count();
        }
    }

    private static Path onlyKvFile(Path spill) throws IOException {
        try (Stream<Path> files = Files.list(spill)) {
            return files.filter(p -> p.toString().endsWith(".kv")).findFirst().orElseThrow();
        }
    }

    @Test
    void withTwoEngineGroupsNewSessionsFillBothAndEachGroupSpillsAndRestoresItsOwn() throws Exception {
        // Two sessions per group, room for one per group: every second turn spills one.
        List<String> keys = List.of("a", "b", "c", "d");
        java.util.Map<String, Answer> reference = new java.util.HashMap<>();
        try (EmbeddedBackend one = start(0, null)) {
            for (String k : keys) reference.put(k, run(one, turn2(k, run(one, turn1(k)))));
        }
        Path spill = dir.resolve("kv");
        try (EmbeddedBackend engine =
                EmbeddedBackend.start(settings(2 * ONE_SESSION_BUDGET, spill).withGroups(2))) {
            java.util.Map<String, Answer> first = new java.util.concurrent.ConcurrentHashMap<>();
            // Concurrently: both engine threads run, taking turns at the model.
            try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
                for (String k : keys) {
                    pool.submit(() -> {
                        first.put(k, run(engine, turn1(k)));
                        return null;
                    });
                }
            }
            EngineStats afterFirst = engine.stats();
            assertEquals(2, afterFirst.residentSessions(), "one resident session per group: " + afterFirst);
            assertEquals(2, afterFirst.spills(), "each group spilled one of its two sessions: " + afterFirst);
            for (String k : keys) {
                Answer second = run(engine, turn2(k, first.get(k)));
                assertTrue(second.cached() > 0, k + " reuses its cached or restored prefix");
                assertEquals(reference.get(k).cached(), second.cached(), k + " reuses as much as with one group");
            }
            assertTrue(engine.stats().restores() >= 2, "spilled sessions came back from the shared spill directory");
        }
    }
}
