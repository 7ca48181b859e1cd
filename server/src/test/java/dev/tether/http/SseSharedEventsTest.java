package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.SseControls;
import dev.tether.testing.TestServer;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Live tails reading the same range share one data-and-control buffer ({@link
 * SseEvents#dataAndControl}), but each tail's control event must still carry its own cursor
 * (Durable Streams §10.1: a client that echoes a cursor that is not behind gets a larger one).
 */
class SseSharedEventsTest {

    @TempDir
    Path dir;

    @Test
    void tailsOfTheSameRangeShareDataButEachGetsItsOwnCursor() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c)) {
            assertEquals(201, server.put("/v1/stream/s", "text/plain").statusCode());
            assertEquals(204, server.post("/v1/stream/s", "text/plain", "hello").statusCode());
            long plain = firstControl(server, "").path("streamCursor").asLong();
            // a cursor far ahead of the current interval: this tail must get a still larger one
            long ahead = plain + 1_000;
            long echoed = firstControl(server, "&cursor=" + ahead)
                    .path("streamCursor")
                    .asLong();
            long again = firstControl(server, "").path("streamCursor").asLong();
            assertTrue(echoed > ahead, "the echoing tail got " + echoed + " for its cursor " + ahead);
            assertTrue(again < ahead, "a tail that echoed nothing got the other tail's cursor " + again);
        }
    }

    /** Opens a tail from the start of /v1/stream/s and returns its first control event. */
    private static JsonNode firstControl(TestServer server, String query) throws Exception {
        HttpResponse<Stream<String>> sse = server.client()
                .sendAsync(
                        server.request("/v1/stream/s?live=sse&offset=-1" + query)
                                .timeout(Duration.ofSeconds(10))
                                .build(),
                        HttpResponse.BodyHandlers.ofLines())
                .get(10, TimeUnit.SECONDS);
        assertEquals(200, sse.statusCode());
        JsonNode[] first = new JsonNode[1];
        SseControls.read(sse.body(), control -> {
            first[0] = control;
            return false;
        });
        if (first[0] == null) {
            throw new AssertionError("the tail ended without a control event");
        }
        return first[0];
    }
}
