package dev.tether.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.metrics.Metrics;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import dev.tether.testing.InProcessApi;
import dev.tether.testing.MemoryStoreWrapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.InstantSource;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A session applies an entry to its state before the entry's write is durable; its view ({@code
 * GET /v1/sessions/<id>}) is answered only once {@link Session#written} completes, so it never shows
 * what a crash could still take back. Here the store's flush is held while a participant joins:
 * once at the session object, once through the HTTP route.
 */
class SessionViewDurabilityTest {
    /** A memory store whose flush waits for a permit while {@link #hold} is set. */
    private static final class HeldFlushStore extends MemoryStoreWrapper {
        private final Semaphore released = new Semaphore(0);
        volatile boolean hold;

        @Override
        public void sync() {
            if (hold) {
                released.acquireUninterruptibly();
            }
        }

        void release() {
            hold = false;
            released.release(1000);
        }
    }

    @Test
    @Timeout(30)
    void theStateRunsAheadOfTheLogAndWrittenSaysWhenItIsDurable() throws Exception {
        HeldFlushStore store = new HeldFlushStore();
        try (StreamEngine engine = new StreamEngine(store, InstantSource.system(), EngineSettings.defaults())) {
            SessionService sessions = new SessionService(engine, null, InstantSource.system(), new Metrics());
            try {
                sessions.start();
                Session s = sessions.create("alice", null).toCompletableFuture().get(10, TimeUnit.SECONDS);
                s.written().toCompletableFuture().get(10, TimeUnit.SECONDS);

                store.hold = true;
                CompletableFuture<?> joined = s.join("bob", Role.USER, "Bob").toCompletableFuture();
                Thread.sleep(200); // the join's write reaches the held flush
                JsonNode view = s.view();
                assertTrue(
                        view.path("participants").findValuesAsText("id").contains("bob"),
                        "the state already has the join: " + view);
                CompletableFuture<Void> written = s.written().toCompletableFuture();
                assertFalse(joined.isDone(), "the join is not durable yet");
                assertFalse(written.isDone(), "so the view of that state must wait");

                store.release();
                written.get(10, TimeUnit.SECONDS);
                assertEquals(
                        "Bob",
                        joined.get(10, TimeUnit.SECONDS) instanceof JsonNode j
                                ? j.path("name").asText()
                                : null);
            } finally {
                store.release();
                sessions.close();
            }
        }
    }

    @Test
    @Timeout(30)
    void getSessionAnswersOnlyOnceWhatItShowsIsDurable() throws Exception {
        HeldFlushStore store = new HeldFlushStore();
        ModelBackend none = new ModelBackend() {
            @Override
            public ModelResult generate(ModelRequest request, ModelSink sink) {
                throw new UnsupportedOperationException("no model in this test");
            }

            @Override
            public String describe() {
                return "none";
            }
        };
        try (InProcessApi api = InProcessApi.start(store, none, InstantSource.system(), 1)) {
            try {
                URI base = api.uri("/");
                HttpClient client = HttpClient.newHttpClient();
                HttpResponse<String> created = client.send(
                        HttpRequest.newBuilder(base.resolve("/v1/sessions"))
                                .POST(HttpRequest.BodyPublishers.noBody())
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(201, created.statusCode(), created.body());
                String id =
                        new ObjectMapper().readTree(created.body()).path("id").asText();
                HttpRequest view = HttpRequest.newBuilder(base.resolve("/v1/sessions/" + id))
                        .GET()
                        .build();

                store.hold = true;
                CompletableFuture<HttpResponse<String>> join = client.sendAsync(
                        HttpRequest.newBuilder(base.resolve("/v1/sessions/" + id + "/participants"))
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString("{\"role\":\"user\",\"name\":\"Bob\"}"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                Thread.sleep(200); // the join is applied, its write waits at the held flush
                CompletableFuture<HttpResponse<String>> seen =
                        client.sendAsync(view, HttpResponse.BodyHandlers.ofString());
                assertThrows(
                        TimeoutException.class,
                        () -> seen.get(500, TimeUnit.MILLISECONDS),
                        "no view while the join it would show is not durable");
                assertFalse(join.isDone(), "nor the join's own answer");

                store.release();
                HttpResponse<String> answered = seen.get(10, TimeUnit.SECONDS);
                assertEquals(200, answered.statusCode(), answered.body());
                assertTrue(answered.body().contains("\"Bob\""), "the view shows the durable join: " + answered.body());
                assertEquals(201, join.get(10, TimeUnit.SECONDS).statusCode());
            } finally {
                store.release(); // before the close, which flushes
            }
        }
    }
}
