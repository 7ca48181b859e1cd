package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelResult;
import dev.tether.metrics.Metrics;
import dev.tether.store.Commit;
import dev.tether.store.Mutation;
import dev.tether.store.StoreException;
import dev.tether.store.StreamStore;
import dev.tether.store.memory.MemoryStreamStore;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ResponseServiceTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A backend that answers "ok" once {@code ready} is counted down. */
    private static ModelBackend answersOkAfter(CountDownLatch ready) {
        return answersOk(ready, new ArrayList<>());
    }

    /** Answers "ok" once {@code ready} is counted down, and records the sessions it is told to forget. */
    private static ModelBackend answersOk(CountDownLatch ready, List<String> forgotten) {
        return new ModelBackend() {
            @Override
            public ModelResult generate(dev.tether.inference.ModelRequest request, dev.tether.inference.ModelSink sink)
                    throws InterruptedException {
                ready.await(5, TimeUnit.SECONDS);
                sink.text("ok");
                return new ModelResult(ModelResult.Finish.STOP, ModelResult.Usage.UNKNOWN);
            }

            @Override
            public void forget(String sessionKey) {
                forgotten.add(sessionKey);
            }

            @Override
            public String describe() {
                return "test";
            }
        };
    }

    /** Waits up to 5 s for {@code condition}; the assertion after it says what was expected. */
    private static void within5s(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
    }

    @Test
    void theBackendDropsTheSessionOfAResponseNothingCanContinue() throws Exception {
        List<String> forgotten = java.util.Collections.synchronizedList(new ArrayList<>());
        try (StreamEngine engine =
                        new StreamEngine(new MemoryStreamStore(), InstantSource.system(), EngineSettings.defaults());
                ResponseService service = new ResponseService(
                        engine,
                        answersOk(new CountDownLatch(0), forgotten),
                        InstantSource.system(),
                        ResponseSettings.defaults(),
                        new Metrics())) {
            ResponseService.LocalChains socket = id -> null;
            ResponseRecord oneShot = finish(service, "{\"model\":\"m\",\"input\":\"a\",\"store\":false}", null);
            ResponseRecord stored = finish(service, "{\"model\":\"m\",\"input\":\"a\"}", null);
            ResponseRecord onSocket = finish(service, "{\"model\":\"m\",\"input\":\"a\",\"store\":false}", socket);
            ResponseRecord continuing = finish(
                    service,
                    "{\"model\":\"m\",\"input\":\"b\",\"store\":false,\"previous_response_id\":\"" + stored.id()
                            + "\"}",
                    null);
            ResponseRecord lastOneShot = finish(service, "{\"model\":\"m\",\"input\":\"c\",\"store\":false}", null);
            assertEquals(ResponseStatus.COMPLETED, continuing.status());
            assertEquals(stored.id(), continuing.rootId(), "it continues the stored chain");
            // A forget follows its run's end, maybe just after this thread saw the end: wait for two.
            within5s(() -> forgotten.size() >= 2);
            assertEquals(
                    List.of(oneShot.id(), lastOneShot.id()),
                    forgotten,
                    "only the store:false responses over HTTP that start a chain are forgotten (not "
                            + stored.id() + ", " + onSocket.id() + " or the chain continued by " + continuing.id()
                            + ")");
        }
    }

    private static ResponseRecord finish(ResponseService service, String body, ResponseService.LocalChains local)
            throws Exception {
        return service.create(ParamsParser.parse(JSON.readTree(body)), local, "anonymous")
                .toCompletableFuture()
                .get(5, TimeUnit.SECONDS)
                .done()
                .toCompletableFuture()
                .get(5, TimeUnit.SECONDS);
    }

    @Test
    void aClientThatSeesTheEndCanContinueAtOnce() throws Exception {
        CountDownLatch subscribed = new CountDownLatch(1);
        ModelBackend backend = answersOkAfter(subscribed);
        try (StreamEngine engine =
                        new StreamEngine(new MemoryStreamStore(), InstantSource.system(), EngineSettings.defaults());
                ResponseService service = new ResponseService(
                        engine, backend, InstantSource.system(), ResponseSettings.defaults(), new Metrics())) {
            ResponseRun first = service.create(
                            ParamsParser.parse(JSON.readTree("{\"model\":\"m\",\"input\":\"a\"}")), null, "anonymous")
                    .toCompletableFuture()
                    .get(5, TimeUnit.SECONDS);
            CompletableFuture<String> next = new CompletableFuture<>();
            first.subscribe(-1, new ResponseListener() {
                @Override
                public void onEvent(int sequence, String type, byte[] json) {}

                @Override
                public void onEnd() {
                    // the fastest possible client: it continues while the end is being delivered
                    try {
                        service.create(
                                        ParamsParser.parse(JSON.readTree("{\"model\":\"m\",\"input\":\"b\","
                                                + "\"previous_response_id\":\"" + first.id() + "\"}")),
                                        null,
                                        "anonymous")
                                .whenComplete((run, e) -> next.complete(e == null ? "started" : e.toString()));
                    } catch (Exception e) {
                        next.complete(e.toString());
                    }
                }
            });
            subscribed.countDown();
            assertEquals("started", next.get(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void aRunThatEndsBeforeTheStoreRefusesItFailsInsteadOfCompleting() throws Exception {
        // The response's streams are created; the store answers the append of its events only
        // after the model has finished, and refuses it: the order a busy writer and a fast model
        // give now and then.
        Set<String> streams = ConcurrentHashMap.newKeySet();
        CountDownLatch created = new CountDownLatch(1);
        CountDownLatch ended = new CountDownLatch(1);
        MemoryStreamStore memory = new MemoryStreamStore();
        StreamStore refusing = (StreamStore) Proxy.newProxyInstance(
                StreamStore.class.getClassLoader(), new Class<?>[] {StreamStore.class}, (proxy, method, args) -> {
                    if (method.getName().equals("commit")) {
                        Commit commit = (Commit) args[0];
                        if (streams.size() >= 2) { // both exist: this is an append of events
                            ended.await(5, TimeUnit.SECONDS);
                            throw new StoreException("the store is full", null, true);
                        }
                        Object result = memory.commit(commit);
                        commit.apply().stream()
                                .filter(m -> m instanceof Mutation.PutStream)
                                .forEach(m -> streams.add(
                                        ((Mutation.PutStream) m).record().path()));
                        if (streams.size() >= 2) {
                            created.countDown();
                        }
                        return result;
                    }
                    try {
                        return method.invoke(memory, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        ModelBackend backend = answersOkAfter(created); // both streams exist before any event
        Metrics metrics = new Metrics();
        try (StreamEngine engine = new StreamEngine(refusing, InstantSource.system(), EngineSettings.defaults());
                ResponseService service = new ResponseService(
                        engine, backend, InstantSource.system(), ResponseSettings.defaults(), metrics)) {
            ResponseRun run = service.create(
                            ParamsParser.parse(JSON.readTree("{\"model\":\"m\",\"input\":\"a\"}")), null, "anonymous")
                    .toCompletableFuture()
                    .get(5, TimeUnit.SECONDS);
            within5s(() -> run.snapshot().status() == ResponseStatus.COMPLETED);
            assertEquals(ResponseStatus.COMPLETED, run.snapshot().status(), "the model finished first");
            assertNull(run.finished(), "its end waits to be durable");
            ended.countDown();

            ResponseRecord result = run.done().toCompletableFuture().get(5, TimeUnit.SECONDS);
            assertEquals(ResponseStatus.FAILED, result.status(), "not stored, so not completed");
            assertEquals("storage_unavailable", result.error().path("code").asText());
            assertEquals(
                    "ok",
                    result.output().get(0).path("content").path(0).path("text").asText(),
                    "output kept");
            List<String> types = new ArrayList<>();
            run.subscribe(-1, new ResponseListener() {
                @Override
                public void onEvent(int sequence, String type, byte[] json) {
                    types.add(type);
                }

                @Override
                public void onEnd() {}
            });
            assertEquals("response.failed", types.getLast(), "the one terminal event is the failure: " + types);
            assertEquals(
                    0,
                    types.stream().filter(t -> t.equals("response.completed")).count(),
                    "no completion: " + types);
            assertEquals(
                    ResponseStatus.FAILED,
                    service.get(run.id(), "anonymous")
                            .toCompletableFuture()
                            .get(5, TimeUnit.SECONDS)
                            .status(),
                    "GET says failed too");
            String scraped = metrics.scrape();
            assertTrue(scraped.contains("tether_responses_total{status=\"failed\"} 1.0"), scraped);
            assertFalse(scraped.contains("status=\"completed\""), "counted once, as failed: " + scraped);
        }
    }
}
