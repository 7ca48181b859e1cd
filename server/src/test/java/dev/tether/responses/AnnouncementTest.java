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

/**
 * {@code response.created} and {@code response.in_progress} go out once the backend has the
 * request under way, so their cost overlaps the model's instead of delaying the request; they are
 * still the first two events of every run, with the run's starting state.
 */
class AnnouncementTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A backend that reports its request sent (or not) and then answers "hi" once released. */
    private static final class Backend implements ModelBackend {
        final boolean reports;
        final boolean callsSent;
        final CountDownLatch inGenerate = new CountDownLatch(1);
        final CountDownLatch sentReported = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch proceed = new CountDownLatch(1);

        Backend(boolean reports, boolean callsSent) {
            this.reports = reports;
            this.callsSent = callsSent;
        }

        @Override
        public ModelResult generate(ModelRequest request, ModelSink sink) throws InterruptedException {
            inGenerate.countDown();
            release.await();
            if (callsSent) {
                sink.sent();
                sink.sent(); // a retried upstream reports again: only the first counts
                sentReported.countDown();
                proceed.await();
            }
            sink.text("hi");
            return new ModelResult(ModelResult.Finish.STOP, ModelResult.Usage.UNKNOWN);
        }

        @Override
        public boolean reportsSent() {
            return reports;
        }

        @Override
        public String describe() {
            return "test";
        }
    }

    private record Run(ResponseRun run, List<String> types, List<JsonNode> events) {}

    private static Run start(ResponseService service) throws Exception {
        ResponseRun run = Runs.start(service, "{\"model\":\"m\",\"input\":\"a\",\"store\":false}");
        List<String> types = new CopyOnWriteArrayList<>();
        List<JsonNode> events = new CopyOnWriteArrayList<>();
        Runs.watch(run, (type, json) -> {
            types.add(type);
            try {
                events.add(JSON.readTree(json));
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
        });
        return new Run(run, types, events);
    }

    private static ResponseService service(StreamEngine engine, ModelBackend backend) {
        return Runs.service(engine, backend, new Metrics());
    }

    private static StreamEngine engine() throws Exception {
        return Runs.memoryEngine(EngineObserver.NONE);
    }

    private static void assertOrdered(Run r) throws Exception {
        r.run().done().toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertEquals("response.created", r.types().get(0), "types: " + r.types());
        assertEquals("response.in_progress", r.types().get(1), "types: " + r.types());
        assertEquals("response.completed", r.types().get(r.types().size() - 1));
        assertEquals(1, r.types().stream().filter("response.created"::equals).count(), "announced once");
        for (int i = 0; i < r.events().size(); i++) {
            assertEquals(i, r.events().get(i).path("sequence_number").asInt(), "sequence numbers in order");
        }
        for (int i = 0; i < 2; i++) {
            JsonNode response = r.events().get(i).path("response");
            assertEquals("in_progress", response.path("status").asText());
            assertEquals(0, response.path("output").size(), "the run's starting state, before any output");
        }
    }

    @Test
    void aBackendThatReportsItsRequestSentGetsTheAnnouncementThenAndNotBefore() throws Exception {
        Backend backend = new Backend(true, true);
        try (StreamEngine engine = engine();
                ResponseService service = service(engine, backend)) {
            Run r = start(service);
            assertTrue(backend.inGenerate.await(5, TimeUnit.SECONDS));
            Thread.sleep(50);
            assertEquals(List.of(), r.types(), "nothing before the request is under way");
            backend.release.countDown();
            assertTrue(backend.sentReported.await(5, TimeUnit.SECONDS));
            Thread.sleep(50);
            assertEquals(List.of("response.created", "response.in_progress"), r.types(), "announced once sent");
            backend.proceed.countDown();
            assertOrdered(r);
        }
    }

    @Test
    void aBackendThatReportsButNeverSaysSentIsAnnouncedBeforeItsFirstOutput() throws Exception {
        Backend backend = new Backend(true, false);
        try (StreamEngine engine = engine();
                ResponseService service = service(engine, backend)) {
            Run r = start(service);
            backend.release.countDown();
            backend.proceed.countDown();
            assertOrdered(r);
            assertTrue(r.types().contains("response.output_text.delta"), "types: " + r.types());
        }
    }

    @Test
    void aBackendThatDoesNotReportIsAnnouncedBeforeItIsCalled() throws Exception {
        Backend backend = new Backend(false, false);
        try (StreamEngine engine = engine();
                ResponseService service = service(engine, backend)) {
            Run r = start(service);
            assertTrue(backend.inGenerate.await(5, TimeUnit.SECONDS));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (r.types().size() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(List.of("response.created", "response.in_progress"), r.types(), "announced at the call");
            backend.release.countDown();
            backend.proceed.countDown();
            assertOrdered(r);
        }
    }

    /**
     * A stored run that fails before the backend reports anything: the announcement still comes
     * first, and the terminal event (not {@code response.created}) is the one that ends the stored
     * log, so all three events are stored.
     */
    @Test
    void aStoredRunThatFailsBeforeItsRequestIsSentStoresAllThreeEvents() throws Exception {
        ModelBackend failing = new ModelBackend() {
            @Override
            public ModelResult generate(ModelRequest request, ModelSink sink)
                    throws dev.tether.inference.ModelException {
                throw new dev.tether.inference.ModelException(
                        dev.tether.inference.ModelException.Kind.UNAVAILABLE, "no model today");
            }

            @Override
            public boolean reportsSent() {
                return true;
            }

            @Override
            public String describe() {
                return "failing";
            }
        };
        try (StreamEngine engine = engine()) {
            String id;
            try (ResponseService service = service(engine, failing)) {
                ResponseRun run = service.create(
                                ParamsParser.parse(JSON.readTree("{\"model\":\"m\",\"input\":\"a\"}")),
                                null,
                                "anonymous")
                        .toCompletableFuture()
                        .get(5, TimeUnit.SECONDS);
                ResponseRecord done = run.done().toCompletableFuture().get(5, TimeUnit.SECONDS);
                assertEquals(ResponseStatus.FAILED, done.status());
                assertTrue(
                        done.error().toString().contains("no model today"),
                        done.error().toString());
                id = run.id();
            }
            // A service started afresh on the same store has no live run: it replays the stored log.
            List<String> stored = new CopyOnWriteArrayList<>();
            CountDownLatch ended = new CountDownLatch(1);
            try (ResponseService restarted = service(engine, failing)) {
                restarted
                        .replay(id, "anonymous", -1)
                        .toCompletableFuture()
                        .get(5, TimeUnit.SECONDS)
                        .deliver(new ResponseListener() {
                            @Override
                            public void onEvent(int sequence, String type, byte[] json) {
                                stored.add(type);
                            }

                            @Override
                            public void onEnd() {
                                ended.countDown();
                            }
                        });
                assertTrue(ended.await(5, TimeUnit.SECONDS));
            }
            assertEquals(List.of("response.created", "response.in_progress", "response.failed"), stored);
        }
    }
}
