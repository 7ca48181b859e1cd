package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.metrics.Metrics;
import dev.tether.stream.EngineObserver;
import dev.tether.stream.StreamEngine;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A backend that knows its answer is complete before its generating thread can return (an
 * upstream's stream ends on the transport's thread) says so to the sink, and the run ends there:
 * the client's terminal event does not wait for the generating thread to wake up.
 */
class AnswerEndTest {
    private static final ObjectMapper JSON = Runs.JSON;

    /** Answers "hi", says so, then keeps its generating thread until released. */
    private static final class SlowToReturn implements ModelBackend {
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch returned = new CountDownLatch(1);

        @Override
        public ModelResult generate(ModelRequest request, ModelSink sink) throws InterruptedException {
            ModelResult result = new ModelResult(ModelResult.Finish.STOP, new ModelResult.Usage(7, 0, 1));
            sink.sent();
            sink.text("hi");
            sink.answered(result);
            try {
                assertTrue(release.await(10, TimeUnit.SECONDS));
                return result;
            } finally {
                returned.countDown();
            }
        }

        @Override
        public boolean reportsSent() {
            return true;
        }

        @Override
        public String describe() {
            return "slow to return";
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void theRunEndsWhenTheBackendSaysItsAnswerIsCompleteAndOnlyOnce(boolean store) throws Exception {
        SlowToReturn backend = new SlowToReturn();
        Metrics metrics = new Metrics();
        List<String> types = new CopyOnWriteArrayList<>();
        List<JsonNode> terminals = new CopyOnWriteArrayList<>();
        try (StreamEngine engine = Runs.memoryEngine(EngineObserver.NONE);
                ResponseService service = Runs.service(engine, backend, metrics)) {
            ResponseRun run = Runs.start(service, "{\"model\":\"m\",\"input\":\"a\",\"store\":" + store + "}");
            Runs.watch(run, (type, json) -> {
                types.add(type);
                if (type.equals("response.completed")) {
                    try {
                        terminals.add(JSON.readTree(json));
                    } catch (java.io.IOException e) {
                        throw new AssertionError(e);
                    }
                }
            });
            // The generating thread is still inside generate: the end must not wait for it.
            ResponseRecord done = run.done().toCompletableFuture().get(5, TimeUnit.SECONDS);
            assertEquals(ResponseStatus.COMPLETED, done.status());
            assertEquals(1, backend.returned.getCount(), "generate returned before the run ended");
            backend.release.countDown();
            assertTrue(backend.returned.await(5, TimeUnit.SECONDS));
            Thread.sleep(100); // the generating thread goes on to end the run again: nothing may change
        }
        assertEquals("response.completed", types.getLast(), "events: " + types);
        assertEquals(1, terminals.size(), "one terminal event; events: " + types);
        assertEquals(
                7,
                terminals
                        .getFirst()
                        .path("response")
                        .path("usage")
                        .path("input_tokens")
                        .asInt(),
                "the usage the backend told");
        assertTrue(
                metrics.scrape().contains("tether_model_output_tokens_total 1.0"),
                "the turn's tokens are counted once:\n" + metrics.scrape());
    }

    @Test
    void aCancelledRunIsNotEndedAsAnswered() throws Exception {
        // A backend that says it answered after the client cancelled: the cancel decides the end.
        java.util.concurrent.atomic.AtomicBoolean cancelled = new java.util.concurrent.atomic.AtomicBoolean();
        ModelBackend late = new ModelBackend() {
            @Override
            public ModelResult generate(ModelRequest request, ModelSink sink) throws InterruptedException {
                sink.sent();
                sink.text("hi");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (!cancelled.get() && System.nanoTime() < deadline) {
                    Thread.onSpinWait(); // deaf to the cancel's interrupt, as a transport thread is
                }
                sink.answered(new ModelResult(ModelResult.Finish.STOP, ModelResult.Usage.UNKNOWN));
                Thread.sleep(10_000); // the cancel's interrupt ends this
                throw new AssertionError("not interrupted");
            }

            @Override
            public boolean reportsSent() {
                return true;
            }

            @Override
            public String describe() {
                return "late";
            }
        };
        try (StreamEngine engine = Runs.memoryEngine(EngineObserver.NONE);
                ResponseService service = Runs.service(engine, late, new Metrics())) {
            ResponseRun run = Runs.start(service, "{\"model\":\"m\",\"input\":\"a\",\"store\":false}");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (run.visibleCount() < 5 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            var ending = run.cancel();
            cancelled.set(true);
            assertEquals(
                    ResponseStatus.CANCELLED,
                    ending.toCompletableFuture().get(5, TimeUnit.SECONDS).status());
        }
    }
}
