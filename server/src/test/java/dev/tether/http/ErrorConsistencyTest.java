package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One error table (finding 8): the same condition — here a full store — gets the same status,
 * code and {@code Retry-After} on the Durable Streams API, the Responses API and conversations,
 * in each API's own envelope, with the request id in the body.
 */
class ErrorConsistencyTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void aFullStoreIsTheSame503WithRetryAfterOnEveryApi() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server =
                        TestServer.start(dir, c -> c.maxStoreBytes(256L * 1024).upstream(URI.create(up.url())))) {
            assertEquals(201, server.put("/v1/stream/fill", "text/plain").statusCode());
            HttpResponse<String> stream = null;
            // Full for every size: a smaller write still fits in a page a larger one could not get.
            for (int size : new int[] {8192, 1024, 128, 16, 1}) {
                for (int i = 0; i < 2000; i++) {
                    stream = server.post("/v1/stream/fill", "text/plain", "x".repeat(size));
                    if (stream.statusCode() != 204) {
                        break;
                    }
                }
            }
            HttpResponse<String> response =
                    server.post("/v1/responses", "application/json", "{\"model\":\"m\",\"input\":\"hi\"}");
            HttpResponse<String> conversation = server.post("/v1/conversations", "application/json", "{}");
            for (HttpResponse<String> r : java.util.List.of(stream, response, conversation)) {
                String what = r.request().uri().getPath() + ": " + r.body();
                assertEquals(503, r.statusCode(), what);
                assertEquals("1", r.headers().firstValue("Retry-After").orElse(null), "Retry-After on " + what);
                JsonNode error = JSON.readTree(r.body()).path("error");
                assertEquals("storage_unavailable", error.path("code").asText(), what);
                assertEquals(
                        r.headers().firstValue("x-request-id").orElse("?"),
                        error.path("request_id").asText(),
                        "the body carries the request id: " + what);
            }
            assertEquals(
                    "server_error",
                    JSON.readTree(response.body()).path("error").path("type").asText(),
                    "the Responses API keeps OpenAI's envelope");
        }
    }
}
