package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.tether.config.ServerConfig;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.metrics.Metrics;
import dev.tether.responses.ResponseService;
import dev.tether.responses.ResponseSettings;
import dev.tether.session.SessionService;
import dev.tether.store.memory.MemoryStreamStore;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import io.vertx.core.Context;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.InstantSource;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A response's run is started by the event loop its request came in on, and has that loop as its
 * home ({@link EventLoops#home}): the upstream client sends from it and reads the answer there,
 * where the response's events are written ({@code UpstreamClientTest} shows the client's side).
 */
class RunHomeTest {
    /**
     * Three loops, a request on each of three connections (Vert.x hands a shared server's
     * connections to its loops in turn): each run's home is a loop of the server, and a different
     * one each time, as the connections' loops are.
     */
    @Test
    @Timeout(60)
    void aResponsesRunHasTheLoopItsRequestCameInOnAsItsHome() throws Exception {
        BlockingQueue<Optional<Context>> homes = new LinkedBlockingQueue<>();
        ModelBackend recording = new ModelBackend() {
            @Override
            public ModelResult generate(ModelRequest request, ModelSink sink) throws ModelException {
                homes.add(Optional.ofNullable(EventLoops.home()));
                throw new ModelException(ModelException.Kind.UNAVAILABLE, "this test only looks at the thread");
            }

            @Override
            public String describe() {
                return "recording";
            }
        };
        Metrics metrics = new Metrics();
        ServerConfig config = ServerConfig.builder()
                .port(0)
                .store(ServerConfig.StoreKind.MEMORY)
                .build();
        try (EventLoops loops = EventLoops.start(3);
                StreamEngine engine =
                        new StreamEngine(new MemoryStreamStore(), InstantSource.system(), EngineSettings.defaults())) {
            ResponseService responses = new ResponseService(
                    engine, recording, InstantSource.system(), ResponseSettings.defaults(), metrics);
            SessionService sessions = new SessionService(engine, responses, InstantSource.system(), metrics);
            try (HttpApi http = HttpApi.start(
                    loops, engine, responses, sessions, config, InstantSource.system(), null, metrics, null)) {
                Set<Context> seen = new HashSet<>();
                for (int i = 0; i < 3; i++) {
                    try (HttpClient client = HttpClient.newHttpClient()) { // a connection of its own
                        HttpResponse<String> answer = client.send(
                                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + "/v1/responses"))
                                        .header("Content-Type", "application/json")
                                        .POST(HttpRequest.BodyPublishers.ofString(
                                                "{\"model\":\"m\",\"input\":\"hi\",\"store\":false}"))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString());
                        Optional<Context> home = homes.poll(10, TimeUnit.SECONDS);
                        assertNotNull(home, "the backend was not asked (answered " + answer.statusCode() + ")");
                        Context loop = home.orElseThrow(() -> new AssertionError("the run has no home loop"));
                        assertSame(loops.vertx(), loop.owner(), "the run's home is not one of the server's loops");
                        seen.add(loop);
                    }
                }
                assertEquals(3, seen.size(), "the runs of requests on three loops had " + seen.size() + " homes");
            } finally {
                sessions.close();
                responses.close();
            }
        }
    }
}
