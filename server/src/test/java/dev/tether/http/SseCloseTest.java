package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.TestServer;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Durable Streams §5.8: the control event that says {@code streamClosed: true} also says {@code
 * upToDate: true} when the reader is at the tail; the official {@code @durable-streams/client}
 * 0.2.7 tells its subscribers the stream closed only when both are set.
 */
class SseCloseTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** The JSON of every control event in an SSE body. */
    private static List<JsonNode> controls(String body) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String event : body.split("\n\n")) {
            if (event.startsWith("event: control\n")) {
                out.add(JSON.readTree(event.substring(event.indexOf("data:") + 5)));
            }
        }
        return out;
    }

    @Test
    void theClosingControlEventAlsoSaysUpToDate() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c)) {
            assertEquals(201, server.put("/v1/stream/c", "text/plain").statusCode());
            assertEquals(204, server.post("/v1/stream/c", "text/plain", "hello").statusCode());
            assertEquals(
                    204,
                    server.send(server.request("/v1/stream/c")
                                    .header("Stream-Closed", "true")
                                    .POST(BodyPublishers.noBody())
                                    .build())
                            .statusCode());
            for (String offset : new String[] {"-1", "now"}) {
                HttpResponse<String> sse = server.get("/v1/stream/c?live=sse&offset=" + offset);
                List<JsonNode> controls = controls(sse.body());
                JsonNode last = controls.get(controls.size() - 1);
                assertTrue(last.path("streamClosed").asBoolean(), "offset " + offset + ": " + sse.body());
                assertTrue(
                        last.path("upToDate").asBoolean(),
                        "offset " + offset + ": a reader at the tail of a closed stream is up to date: " + last);
            }
        }
    }
}
