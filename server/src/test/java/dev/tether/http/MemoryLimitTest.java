package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.ServerProcess;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongPredicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 10 of the outside probe, end to end, in a child JVM with a small heap ({@code
 * -Xmx160m}: a memory budget of about 80 MB). Before the budget, each stream kept its last 15 MiB
 * message in memory and unfinished bodies were held whole, until the heap ran out. Now large
 * writes beyond the budget get 503 {@code memory_full}, windows are evicted, held bodies are
 * given back when their connection closes, and the server stays healthy throughout.
 */
class MemoryLimitTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BODY = 15 << 20;
    /** Shared by every request, so the test's own heap holds one copy. */
    private static final byte[] DATA = new byte[BODY];

    @TempDir
    Path dir;

    private ServerProcess server;
    private final HttpClient client =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void start() throws Exception {
        // An upstream that is never called keeps the embedded model (and its memory) out of the way.
        server = ServerProcess.start(dir.resolve("data"), List.of("-Xmx160m"), "--upstream", "http://127.0.0.1:9/v1");
    }

    @AfterEach
    void stop() {
        client.close();
        server.close();
    }

    private HttpRequest put(String path) {
        return HttpRequest.newBuilder(URI.create(server.base() + path))
                .timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(DATA))
                .build();
    }

    private JsonNode health() throws Exception {
        HttpResponse<String> res = client.send(
                HttpRequest.newBuilder(URI.create(server.base() + "/health"))
                        .timeout(Duration.ofSeconds(10))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, res.statusCode(), "the server is healthy: " + res.body());
        return JSON.readTree(res.body());
    }

    /** Polls /health until the pinned bytes satisfy {@code until}: the server sees closes asynchronously. */
    private long awaitPinned(LongPredicate until, String what) throws Exception {
        long pinned = -1;
        for (int i = 0; i < 400; i++) {
            pinned = health().path("memory").path("pinned").asLong();
            if (until.test(pinned)) {
                return pinned;
            }
            Thread.sleep(25);
        }
        throw new AssertionError(what + "; pinned bytes stayed at " + pinned + "; server log:\n" + server.output());
    }

    private static void assertMemoryFull(HttpResponse<String> res) throws Exception {
        assertEquals(503, res.statusCode(), res.body());
        assertEquals(
                "memory_full",
                JSON.readTree(res.body()).path("error").path("code").asText(),
                res.body());
        assertTrue(res.headers().firstValue("Retry-After").isPresent(), "clients are told when to retry");
    }

    @Test
    void manyLargeStreamsOneAfterAnotherStayWithinTheBudgetAndReadBackFromTheStore() throws Exception {
        for (int i = 0; i < 16; i++) { // 240 MiB of last messages, in a 160 MiB heap
            HttpResponse<String> res = client.send(put("/v1/stream/big-" + i), HttpResponse.BodyHandlers.ofString());
            assertEquals(201, res.statusCode(), "create " + i + ": " + res.body());
        }
        JsonNode memory = health().path("memory");
        assertTrue(
                memory.path("pinned").asLong() + memory.path("cached").asLong()
                        <= memory.path("limit").asLong(),
                "windows were evicted to stay within the budget: " + memory);
        HttpResponse<byte[]> first = client.send(
                HttpRequest.newBuilder(URI.create(server.base() + "/v1/stream/big-0"))
                        .timeout(Duration.ofSeconds(60))
                        .build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, first.statusCode());
        assertEquals(BODY, first.body().length, "an evicted stream is read from the store");
    }

    @Test
    void concurrentLargeCreatesBeyondTheBudgetGet503MemoryFullAndHoldNothingAfterwards() throws Exception {
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 12; i++) { // 180 MiB at once against a budget of about 80 MB
            all.add(client.sendAsync(put("/v1/stream/at-once-" + i), HttpResponse.BodyHandlers.ofString()));
        }
        int created = 0;
        int refused = 0;
        for (var f : all) {
            HttpResponse<String> res;
            try {
                res = f.get();
            } catch (java.util.concurrent.ExecutionException e) {
                throw new AssertionError(
                        "every request is answered: " + e.getCause() + "; server log:\n" + server.output(), e);
            }
            if (res.statusCode() == 201) {
                created++;
            } else {
                assertMemoryFull(res);
                refused++;
            }
        }
        assertTrue(created > 0 && refused > 0, created + " created, " + refused + " refused");
        awaitPinned(p -> p == 0, "every answered request gave its memory back");
    }

    @Test
    void unfinishedBodiesCountAgainstTheBudgetUntilTheirConnectionsClose() throws Exception {
        long limit = health().path("memory").path("limit").asLong();
        // A body counts twice while received: its buffer and the copy handed to the engine.
        int fit = (int) (limit / (2L * BODY));
        List<Socket> stalled = new ArrayList<>();
        try {
            for (int i = 0; i < fit; i++) {
                stalled.add(startBody("/v1/stream/stalled-" + i));
            }
            awaitPinned(p -> p >= 2L * fit * BODY, fit + " unfinished bodies are counted");
            assertMemoryFull(client.send(put("/v1/stream/one-more"), HttpResponse.BodyHandlers.ofString()));
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
        }
        awaitPinned(p -> p == 0, "closing the connections gave their bodies' memory back");
        assertEquals(
                201,
                client.send(put("/v1/stream/one-more"), HttpResponse.BodyHandlers.ofString())
                        .statusCode(),
                "the same request fits once they are gone");
    }

    /** Sends a PUT's headers and the first 64 KiB of a 15 MiB body, then nothing more. */
    private Socket startBody(String path) throws Exception {
        Socket s = new Socket("127.0.0.1", server.port());
        OutputStream out = s.getOutputStream();
        out.write(("PUT " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                        + "Content-Length: " + BODY + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.write(DATA, 0, 64 * 1024);
        out.flush();
        return s;
    }
}
