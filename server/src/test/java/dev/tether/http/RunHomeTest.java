package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.store.memory.MemoryStreamStore;
import dev.tether.testing.InProcessApi;
import io.vertx.core.Context;
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
        try (InProcessApi api = InProcessApi.start(new MemoryStreamStore(), recording, InstantSource.system(), 3)) {
            Set<Context> seen = new HashSet<>();
            for (int i = 0; i < 3; i++) {
                try (HttpClient client = HttpClient.newHttpClient()) { // a connection of its own
                    HttpResponse<String> answer = client.send(
                            HttpRequest.newBuilder(api.uri("/v1/responses"))
                                    .header("Content-Type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofString(
                                            "{\"model\":\"m\",\"input\":\"hi\",\"store\":false}"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
                    Optional<Context> home = homes.poll(10, TimeUnit.SECONDS);
                    assertNotNull(home, "the backend was not asked (answered " + answer.statusCode() + ")");
                    Context loop = home.orElseThrow(() -> new AssertionError("the run has no home loop"));
                    assertSame(api.loops().vertx(), loop.owner(), "the run's home is not one of the server's loops");
                    seen.add(loop);
                }
            }
            assertEquals(3, seen.size(), "the runs of requests on three loops had " + seen.size() + " homes");
        }
    }
}
