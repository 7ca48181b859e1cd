package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** store:false must never reach the data directory, over HTTP or WebSocket. */
class ZeroRetentionTest {
    @TempDir
    Path dir;

    @Test
    void storeFalseLeavesNoTraceInTheDataDirectory() throws Exception {
        String secret = "ZDR-" + UUID.randomUUID();
        String stored = "KEPT-" + UUID.randomUUID();
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(dir, b -> b.upstream(URI.create(up.url())))) {
            ResponsesClient api = new ResponsesClient(server);
            assertEquals(
                    200,
                    api.post("/v1/responses", "{\"model\":\"m\",\"store\":false,\"input\":\"" + secret + "\"}")
                            .status());
            api.stream("{\"model\":\"m\",\"store\":false,\"stream\":true,\"instructions\":\"" + secret
                    + "\",\"input\":\"x\"}");
            ResponsesSocketTest.Socket s = ResponsesSocketTest.Socket.open(server);
            s.send("{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"input\":\"" + secret + "\"}");
            String id = s.turn().getLast().path("response").path("id").asText();
            s.send("{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"previous_response_id\":\"" + id
                    + "\",\"input\":\"" + secret + "-2\"}");
            assertEquals("response.completed", s.turn().getLast().path("type").asText());
            assertEquals(
                    200,
                    api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"" + stored + "\"}")
                            .status());
            assertTrue(
                    up.requests().stream().anyMatch(r -> r.toString().contains(secret)),
                    "the secret did reach the model");
        }
        List<Path> files = files(dir);
        assertFalse(files.isEmpty(), "the SQLite store wrote files");
        assertTrue(contain(files, stored), "control: a stored response is found by this scan");
        assertFalse(contain(files, secret), "a store:false request left its content in " + dir);
    }

    private static List<Path> files(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            return walk.filter(Files::isRegularFile).toList();
        }
    }

    private static boolean contain(List<Path> files, String marker) throws IOException {
        byte[] needle = marker.getBytes(StandardCharsets.UTF_8);
        for (Path f : files) {
            byte[] data = Files.readAllBytes(f);
            outer:
            for (int i = 0; i + needle.length <= data.length; i++) {
                for (int j = 0; j < needle.length; j++) {
                    if (data[i + j] != needle[j]) {
                        continue outer;
                    }
                }
                return true;
            }
        }
        return false;
    }
}
