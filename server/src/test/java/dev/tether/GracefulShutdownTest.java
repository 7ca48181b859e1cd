package dev.tether;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.ServerProcess;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM while clients append: the server stops cleanly (exit code of a signalled JVM), every
 * append it acknowledged is there after a restart, and nothing it refused or dropped is.
 */
class GracefulShutdownTest {
    @TempDir
    Path dir;

    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2))
            .build();

    @Test
    @Timeout(90)
    void sigtermKeepsEveryAcknowledgedAppendAndNothingElse() throws Exception {
        Path data = dir.resolve("data");
        ConcurrentLinkedQueue<String> acknowledged = new ConcurrentLinkedQueue<>();
        try (ServerProcess server = ServerProcess.start(data)) {
            URI stream = server.base().resolve("/v1/stream/shutdown");
            assertEquals(
                    201,
                    send(HttpRequest.newBuilder(stream)
                                    .header("Content-Type", "text/plain")
                                    .PUT(HttpRequest.BodyPublishers.noBody()))
                            .statusCode());
            CountDownLatch warm = new CountDownLatch(200);
            List<Thread> writers = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                int writer = w;
                writers.add(Thread.ofVirtual().start(() -> appendUntilRefused(stream, writer, acknowledged, warm)));
            }
            assertTrue(warm.await(30, java.util.concurrent.TimeUnit.SECONDS), "appends are flowing");
            int exit = server.stop();
            assertEquals(143, exit, "a SIGTERM'd JVM that ran its shutdown hook exits with 128+15");
            for (Thread t : writers) {
                t.join();
            }
        }
        try (ServerProcess restarted = ServerProcess.start(data)) {
            HttpResponse<String> read = client.send(
                    HttpRequest.newBuilder(restarted.base().resolve("/v1/stream/shutdown?offset=-1"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            assertEquals(200, read.statusCode());
            List<String> stored = List.of(read.body().split(";"));
            for (String ack : acknowledged) {
                assertTrue(stored.contains(ack), "acknowledged append " + ack + " survived the shutdown");
            }
            assertEquals(stored.size(), stored.stream().distinct().count(), "no append is stored twice");
            assertTrue(
                    stored.size() - acknowledged.size() <= 4,
                    "at most one unacknowledged in-flight append per writer was stored (" + stored.size() + " stored, "
                            + acknowledged.size() + " acknowledged)");
        }
    }

    /** Appends "w<writer>-<n>;" until the server refuses or goes away. */
    private void appendUntilRefused(
            URI stream, int writer, ConcurrentLinkedQueue<String> acknowledged, CountDownLatch warm) {
        for (int n = 0; ; n++) {
            String record = "w" + writer + "-" + n;
            try {
                HttpResponse<Void> res = client.send(
                        HttpRequest.newBuilder(stream)
                                .timeout(Duration.ofSeconds(10))
                                .header("Content-Type", "text/plain")
                                .POST(HttpRequest.BodyPublishers.ofString(record + ";"))
                                .build(),
                        HttpResponse.BodyHandlers.discarding());
                if (res.statusCode() != 204) {
                    return; // 503 shutting down: refused cleanly
                }
                acknowledged.add(record);
                warm.countDown();
            } catch (IOException e) {
                return; // the connection closed: the append was not acknowledged
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private HttpResponse<Void> send(HttpRequest.Builder request) throws IOException, InterruptedException {
        return client.send(request.build(), HttpResponse.BodyHandlers.discarding());
    }
}
