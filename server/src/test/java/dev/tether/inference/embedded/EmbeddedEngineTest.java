package dev.tether.inference.embedded;

import static dev.tether.inference.embedded.Turns.conversation;
import static dev.tether.inference.embedded.Turns.request;
import static dev.tether.inference.embedded.Turns.run;
import static dev.tether.inference.embedded.Turns.waitFor;
import static dev.tether.inference.embedded.Turns.words;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.inference.ModelException;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.inference.embedded.Turns.Answer;
import dev.tether.inference.embedded.llama.LlamaException;
import dev.tether.inference.embedded.llama.LlamaModel;
import dev.tether.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine's behaviour per turn: cancellation, concurrency, limits and bad models. */
class EmbeddedEngineTest {
    private static EmbeddedBackend engine;

    @BeforeAll
    static void load() throws Exception {
        engine = SessionCacheTest.start(0, null);
    }

    @AfterAll
    static void unload() {
        engine.close();
    }

    @Test
    void cancellingATurnStopsItMidGenerationAndTheSessionStaysUsable() throws Exception {
        ModelRequest longAnswer = request("cancel", true, conversation(List.of(words(20, 4)), List.of()), 3000);
        // Greedy decoding of this prompt runs to its limit: check that it would not stop on its own.
        Answer control = run(engine, request("control", true, longAnswer.messages(), 200));
        assertEquals(ModelResult.Finish.LENGTH, control.result().finish());

        CountDownLatch started = new CountDownLatch(1);
        AtomicInteger deltas = new AtomicInteger();
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread caller = Thread.ofVirtual().start(() -> {
            try {
                engine.generate(longAnswer, sink(() -> {
                    deltas.incrementAndGet();
                    started.countDown();
                }));
            } catch (Throwable t) {
                outcome.set(t);
            }
        });
        long outputBefore = engine.stats().outputTokens();
        assertTrue(started.await(10, TimeUnit.SECONDS), "generation started");
        long turnsBefore = engine.stats().turns();
        caller.interrupt();
        caller.join(5_000);
        assertFalse(caller.isAlive(), "generate() returned promptly after the interrupt");
        assertInstanceOf(InterruptedException.class, outcome.get());
        int seen = deltas.get();
        assertTrue(seen < 3000, "stopped early: " + seen + " deltas");

        waitFor(() -> engine.stats().turns() > turnsBefore); // the engine let go of the turn
        long generated = engine.stats().outputTokens() - outputBefore;
        assertTrue(generated < 2000, "the engine stopped generating, not just the caller reading: " + generated);
        Answer next = run(engine, request("cancel", true, longAnswer.messages(), 5));
        assertTrue(next.cached() > 0, "the cancelled turn's prefill stays usable: " + next.cached());
    }

    @Test
    void concurrentSessionsAllCompleteWithTheirOwnAnswers() throws Exception {
        int n = 4;
        List<ModelRequest> requests = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            requests.add(request("c" + i, true, conversation(List.of(words(40 + 30 * i, i)), List.of()), 24));
        }
        List<String> sequential = new ArrayList<>();
        try (EmbeddedBackend reference = SessionCacheTest.start(0, null)) {
            for (ModelRequest r : requests) sequential.add(run(reference, r).text());
        }
        Answer[] answers = new Answer[n];
        List<Thread> threads = new ArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int i = 0; i < n; i++) {
            int k = i;
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    answers[k] = run(engine, requests.get(k));
                } catch (Throwable t) {
                    failure.set(t);
                }
            }));
        }
        for (Thread t : threads) t.join(30_000);
        assertEquals(null, failure.get());
        for (int i = 0; i < n; i++) {
            assertEquals(24, answers[i].result().usage().outputTokens(), "session " + i + " ran to its limit");
            assertEquals(sequential.get(i), answers[i].text(), "session " + i + ": batching does not mix sessions");
        }
    }

    @Test
    void aPromptLargerThanTheSessionContextIsRefusedWithAClearError() throws Exception {
        try (EmbeddedBackend small =
                EmbeddedBackend.start(SessionCacheTest.settings(0, null).withSessionContext(256))) {
            ModelException e = assertThrows(
                    ModelException.class,
                    () -> run(small, request("big", true, conversation(List.of(words(400, 1)), List.of()), 10)));
            assertEquals(ModelException.Kind.CONTEXT_LENGTH_EXCEEDED, e.kind());
            assertTrue(e.getMessage().contains("256 tokens"), e.getMessage());
        }
    }

    @Test
    void badModelFilesFailWithTheReason(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("missing.gguf");
        assertTrue(assertThrows(LlamaException.class, () -> LlamaModel.load(missing))
                .getMessage()
                .contains("not found"));

        Path text = Files.writeString(dir.resolve("notes.gguf"), "this is not a model");
        assertTrue(assertThrows(LlamaException.class, () -> LlamaModel.load(text))
                .getMessage()
                .contains("not a GGUF"));

        byte[] model = Files.readAllBytes(TestModels.tiny());
        Path truncated = Files.write(dir.resolve("truncated.gguf"), Arrays.copyOf(model, model.length / 3));
        String why = assertThrows(LlamaException.class, () -> LlamaModel.load(truncated))
                .getMessage();
        assertTrue(why.contains("could not load"), why);

        Answer stillWorks = run(engine, request("after-bad", true, conversation(List.of("hi"), List.of()), 3));
        assertEquals(3, stillWorks.result().usage().outputTokens(), "a failed load leaves the engine usable");
    }

    @Test
    void aUserModelThatDoesNotLoadStaysAStartUpErrorAndIsLeftAlone(@TempDir Path dir) throws Exception {
        Path empty = Files.createFile(dir.resolve("mine.gguf"));
        LlamaException e = assertThrows(
                LlamaException.class, () -> EmbeddedBackend.start(SessionCacheTest.settings(empty, 0, null)));
        assertTrue(e.getMessage().contains("not a GGUF"), e.getMessage());
        assertEquals(0, Files.size(empty), "only the generated demo model is regenerated, never a user's file");
    }

    @Test
    void turnsBeyondTheWaitingLimitAreRefusedAsOverloaded() throws Exception {
        try (EmbeddedBackend small =
                EmbeddedBackend.start(SessionCacheTest.settings(0, null).withMaxWaitingTurns(1))) {
            // A turn that runs until cancelled, and a second turn of its session that waits for it.
            ModelRequest busy = request("busy", true, conversation(List.of(words(20, 4)), List.of()), 3900);
            CountDownLatch started = new CountDownLatch(1);
            Thread first = Thread.ofVirtual().start(() -> {
                try {
                    small.generate(busy, sink(started::countDown));
                } catch (Exception expected) {
                    // cancelled below
                }
            });
            assertTrue(started.await(10, TimeUnit.SECONDS), "the first turn runs");
            AtomicReference<Object> second = new AtomicReference<>();
            Thread waiter = Thread.ofVirtual().start(() -> {
                try {
                    second.set(run(small, request("busy", true, busy.messages(), 2)));
                } catch (Throwable t) {
                    second.set(t);
                }
            });
            waitFor(() -> small.waitingTurns() == 1);

            ModelException e = assertThrows(
                    ModelException.class,
                    () -> run(small, request("other", true, conversation(List.of("hi"), List.of()), 2)));
            assertEquals(ModelException.Kind.OVERLOADED, e.kind());
            assertTrue(e.getMessage().contains("Retry shortly"), e.getMessage());
            assertEquals(1, small.waitingTurns(), "the refused turn did not join the queue");
            assertEquals(1, small.refusedTurns());

            first.interrupt();
            waiter.join(10_000);
            assertInstanceOf(Answer.class, second.get(), "the waiting turn ran once the first was cancelled");
            assertEquals(0, small.waitingTurns());
        }
    }

    private static ModelSink sink(Runnable onText) {
        return new ModelSink() {
            @Override
            public void text(String delta) {
                onText.run();
            }

            @Override
            public void toolCall(int index, String callId, String name) {}

            @Override
            public void toolArguments(int index, String delta) {}
        };
    }
}
