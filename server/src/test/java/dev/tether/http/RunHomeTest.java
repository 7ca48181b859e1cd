package dev.tether.http;

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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A response's run is started by the event loop its request came in on, and has that loop as its
 * home ({@link EventLoops#home}): the upstream client sends from it and reads the answer there,
 * where the response's events are written ({@code UpstreamClientTest} shows the client's side).
 */
class RunHomeTest {
    @Test
    @Timeout(60)
    void aResponsesRunHasTheLoopItsRequestCameInOnAsItsHome() throws Exception {
        CompletableFuture<Context> home = new CompletableFuture<>();
        ModelBackend recording = new ModelBackend() {
            @Override
            public ModelResult generate(ModelRequest request, ModelSink sink) throws ModelException {
                home.complete(EventLoops.home());
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
        try (EventLoops loops = EventLoops.start(1);
                StreamEngine engine =
                        new StreamEngine(new MemoryStreamStore(), InstantSource.system(), EngineSettings.defaults())) {
            ResponseService responses = new ResponseService(
                    engine, recording, InstantSource.system(), ResponseSettings.defaults(), metrics);
            SessionService sessions = new SessionService(engine, responses, InstantSource.system(), metrics);
            try (HttpApi http = HttpApi.start(
                    loops, engine, responses, sessions, config, InstantSource.system(), null, metrics, null)) {
                HttpResponse<String> answer = HttpClient.newHttpClient()
                        .send(
                                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + "/v1/responses"))
                                        .header("Content-Type", "application/json")
                                        .POST(HttpRequest.BodyPublishers.ofString(
                                                "{\"model\":\"m\",\"input\":\"hi\",\"store\":false}"))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString());
                Context loop = home.get(10, TimeUnit.SECONDS);
                assertNotNull(loop, "the run has no home loop (answered " + answer.statusCode() + ")");
                assertSame(loops.vertx(), loop.owner(), "the run's home is not one of the server's loops");
            } finally {
                sessions.close();
                responses.close();
            }
        }
    }
}
