package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.TestServer;
import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A body counts twice against the memory budget (the bytes received and the write built from
 * them). One the whole budget could never hold is the client's 413, said at once, whether its
 * length is declared or it arrives chunked; a 503 would have it retried forever.
 */
class BodyBudgetTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BUDGET = 64 << 10;

    @TempDir
    static Path dir;

    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir, c -> c.maxBodyBytes(1 << 20).maxMemoryBytes(BUDGET));
        assertEquals(201, server.put("/v1/stream/s", "application/octet-stream").statusCode());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static HttpResponse<String> append(byte[] body, boolean chunked) throws Exception {
        var publisher = chunked
                ? BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))
                : BodyPublishers.ofByteArray(body);
        return server.send(server.request("/v1/stream/s")
                .header("Content-Type", "application/octet-stream")
                .POST(publisher)
                .build());
    }

    private static void assertNeverFits(HttpResponse<String> res) throws Exception {
        assertEquals(413, res.statusCode(), res.body());
        String message = JSON.readTree(res.body()).path("error").path("message").asText();
        assertTrue(message.contains("half the server's memory budget"), res.body());
        assertTrue(res.headers().firstValue("Retry-After").isEmpty(), "nothing to retry: " + res.headers());
    }

    @Test
    void aBodyLargerThanHalfTheBudgetIs413DeclaredOrChunked() throws Exception {
        assertNeverFits(append(new byte[BUDGET / 2 + 1], false));
        assertNeverFits(append(new byte[BUDGET / 2 + 1], true));
    }

    @Test
    void aBodyThatFitsIsTaken() throws Exception {
        assertEquals(204, append(new byte[BUDGET / 4], false).statusCode());
        assertEquals(204, append(new byte[BUDGET / 4], true).statusCode());
    }
}
