package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.ServerProcess;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A disk that fails a page-in of the log's index chunk file (mapped: the JVM throws an {@link
 * InternalError}) fails a catch-up read with 503, as a segment's fault does: not a request left
 * unanswered, nor a 500. The server runs in a process of its own, whose chunk file the test cuts
 * under its mapping (through {@code /proc/PID/fd}).
 */
class IndexFaultReadTest {
    @TempDir
    Path dir;

    private final HttpClient client =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private HttpResponse<String> send(ServerProcess server, String method, String path, String body)
            throws IOException, InterruptedException {
        return client.send(
                HttpRequest.newBuilder(server.base().resolve(path))
                        .timeout(Duration.ofSeconds(10)) // a request left unanswered fails here
                        .header("Content-Type", "text/plain")
                        .method(method, HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aFaultReadingAnIndexChunkIsA503() throws Exception {
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"))) {
            assertEquals(201, send(server, "PUT", "/v1/stream/s", "").statusCode());
            for (int i = 0; i < 20; i++) {
                assertEquals(
                        204,
                        send(server, "POST", "/v1/stream/s", "message " + i + ";")
                                .statusCode());
            }
            server.stop();
        }
        // At open, every stream's index chunk is parked in the chunk file: a read walks it there.
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"))) {
            truncateChunkFile(server.pid());
            HttpResponse<String> read = send(server, "GET", "/v1/stream/s?offset=-1", "");
            assertEquals(503, read.statusCode(), read.body());
            assertTrue(read.body().contains("storage_unavailable"), read.body());
            assertTrue(server.isAlive(), "the server goes on");
            assertEquals(200, send(server, "HEAD", "/v1/stream/s", "").statusCode(), "metadata is not in the file");
        }
    }

    private static void truncateChunkFile(long pid) throws IOException {
        Path chunkFile = null;
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().matches(".*index-.*\\.chunks \\(deleted\\)")) {
                        chunkFile = fd;
                    }
                } catch (IOException gone) {
                    // closed since the listing
                }
            }
        }
        Assumptions.assumeTrue(chunkFile != null, "needs /proc/PID/fd");
        try (FileChannel c = FileChannel.open(chunkFile, StandardOpenOption.WRITE)) {
            c.truncate(0);
        }
    }
}
