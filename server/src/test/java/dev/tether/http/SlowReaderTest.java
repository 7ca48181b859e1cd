package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.Scrapes;
import dev.tether.testing.TestServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reader that stops reading must not hold back other readers of the same stream or make the
 * server buffer without bound: its bounded write queue fills, and after the slow-consumer
 * timeout the server disconnects it (it can resume by offset).
 */
class SlowReaderTest {
    private static final int APPENDS = 160;
    private static final int CHUNK = 64 * 1024;

    @TempDir
    Path dir;

    @Test
    @Timeout(60)
    void aStalledSseReaderIsDisconnectedWhileAFastReaderGetsEverything() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.slowConsumerTimeout(Duration.ofMillis(500)))) {
            assertEquals(201, server.put("/v1/stream/fan", "text/plain").statusCode());
            Socket stalled = new Socket();
            stalled.setReceiveBufferSize(4096);
            stalled.connect(new java.net.InetSocketAddress("127.0.0.1", server.port()));
            stalled.getOutputStream()
                    .write(("GET /v1/stream/fan?offset=-1&live=sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));

            long total = (long) APPENDS * CHUNK;
            CompletableFuture<Long> fast = CompletableFuture.supplyAsync(() -> readSse(server, total));
            for (int i = 0; i < APPENDS; i++) {
                assertEquals(
                        204,
                        server.post("/v1/stream/fan", "text/plain", "x".repeat(CHUNK))
                                .statusCode());
            }
            assertEquals(total, fast.get(30, TimeUnit.SECONDS), "the fast reader received every byte");

            // Keep not reading until the server gives up on the stalled reader, then look at what arrived.
            Scrapes.awaitSlowReaderCut(server, "sse");
            long stalledBytes = drain(stalled);
            assertTrue(
                    stalledBytes < total,
                    "the stalled reader was cut off (got " + stalledBytes + " of " + total
                            + " bytes) instead of the server buffering the whole stream for it");
        }
    }

    /** The reader's session has sent everything (it is "caught up") but the reader took none of it. */
    @Test
    @Timeout(60)
    void aStalledSseReaderIsDisconnectedEvenWhenTheSessionIsCaughtUp() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.slowConsumerTimeout(Duration.ofMillis(500)))) {
            assertEquals(201, server.put("/v1/stream/big", "text/plain").statusCode());
            int size = 12 * 1024 * 1024;
            assertEquals(
                    204,
                    server.post("/v1/stream/big", "text/plain", "y".repeat(size))
                            .statusCode());
            Socket stalled = new Socket();
            stalled.setReceiveBufferSize(4096);
            stalled.connect(new java.net.InetSocketAddress("127.0.0.1", server.port()));
            stalled.getOutputStream()
                    .write(("GET /v1/stream/big?offset=-1&live=sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            // Stalled until the server has given up on it (on a loaded machine that can take a while).
            Scrapes.awaitSlowReaderCut(server, "sse");
            long got = drain(stalled);
            assertTrue(got < size, "the stalled reader was cut off after " + got + " of " + size + " bytes");
        }
    }

    /** Reads SSE data lines until {@code expected} payload bytes arrived; returns the count. */
    private static long readSse(TestServer server, long expected) {
        try {
            HttpResponse<InputStream> res = server.client()
                    .send(
                            server.request("/v1/stream/fan?offset=-1&live=sse")
                                    .timeout(Duration.ofSeconds(30))
                                    .GET()
                                    .build(),
                            HttpResponse.BodyHandlers.ofInputStream());
            long got = 0;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8))) {
                boolean inData = false;
                String line;
                while (got < expected && (line = in.readLine()) != null) {
                    if (line.startsWith("event:")) {
                        inData = line.equals("event: data");
                    } else if (inData && line.startsWith("data:")) {
                        got += line.length() - "data:".length();
                    }
                }
            }
            return got;
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Reads what the server sent before disconnecting; EOF or reset end it. A connection that is
     * still open after the buffered bytes were read was not disconnected: that fails the test.
     */
    private static long drain(Socket socket) throws IOException {
        socket.setSoTimeout(5_000);
        long n = 0;
        byte[] buf = new byte[64 * 1024];
        try (socket;
                InputStream in = socket.getInputStream()) {
            int r;
            while ((r = in.read(buf)) != -1) {
                n += r;
            }
        } catch (java.net.SocketTimeoutException stillOpen) {
            throw new AssertionError("the server kept the stalled reader's connection open (" + n + " bytes read)");
        } catch (java.net.SocketException reset) {
            // Connection reset by the server: the disconnect we expect.
        }
        return n;
    }
}
