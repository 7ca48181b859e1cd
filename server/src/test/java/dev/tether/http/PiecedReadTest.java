package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A catch-up read larger than one piece is planned from the log store's index and sent piece by
 * piece ({@code PiecedBody}): the headers carry the whole body's length, each piece is read while
 * the last is sent. The body must be exactly the stream's bytes (binary) or one JSON array of its
 * messages, whatever the piece boundaries. (A piece that fails: {@link PiecedBodyTest}.)
 */
class PiecedReadTest {
    private static final int APPEND = 50_000;

    @TempDir
    Path dir;

    @Test
    @Timeout(60)
    void aBinaryCatchUpIsTheStreamsBytes() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c)) {
            byte[] all = binaryStream(server, "/v1/stream/bin", 60); // 3 MB: six pieces
            HttpResponse<byte[]> r = get(server, "/v1/stream/bin?offset=-1");
            assertEquals(200, r.statusCode());
            assertEquals(
                    String.valueOf(all.length),
                    r.headers().firstValue("Content-Length").orElse(null));
            assertEquals("true", r.headers().firstValue("Stream-Up-To-Date").orElse(null));
            assertArrayEquals(all, r.body());

            // An offset inside a message (binary streams allow it): the first piece starts there.
            String next = r.headers().firstValue("Stream-Next-Offset").orElseThrow();
            String incarnation = next.substring(0, next.indexOf('_'));
            String inside =
                    String.format("%s_%0" + (next.length() - incarnation.length() - 1) + "d", incarnation, 1_500);
            HttpResponse<byte[]> tail = get(server, "/v1/stream/bin?offset=" + inside);
            assertEquals(200, tail.statusCode());
            assertArrayEquals(Arrays.copyOfRange(all, 1_500, all.length), tail.body());
        }
    }

    @Test
    @Timeout(60)
    void aStreamLongerThanOneReadIsReadInSeveralThatJoinUp() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c)) {
            byte[] all = binaryStream(server, "/v1/stream/long", 120); // 6 MB: more than one read
            ByteArrayOutputStream read = new ByteArrayOutputStream();
            String offset = "-1";
            int requests = 0;
            while (true) {
                HttpResponse<byte[]> r = get(server, "/v1/stream/long?offset=" + offset);
                assertEquals(200, r.statusCode());
                requests++;
                read.write(r.body());
                if (r.headers().firstValue("Stream-Up-To-Date").isPresent()) {
                    break;
                }
                assertEquals(0, read.size() % APPEND, "a read ends at a message boundary");
                offset = r.headers().firstValue("Stream-Next-Offset").orElseThrow();
            }
            assertTrue(requests > 1, "6 MB came in one read");
            assertArrayEquals(all, read.toByteArray());
        }
    }

    @Test
    @Timeout(60)
    void aJsonCatchUpIsOneArrayOfAllTheMessages() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c)) {
            assertEquals(201, server.put("/v1/stream/doc", "application/json").statusCode());
            String pad = "x".repeat(150);
            for (int batch = 0; batch < 60; batch++) {
                StringBuilder body = new StringBuilder("[");
                for (int i = 0; i < 100; i++) {
                    body.append(i == 0 ? "" : ",")
                            .append("{\"n\":")
                            .append(batch * 100 + i)
                            .append(",\"pad\":\"")
                            .append(pad)
                            .append("\"}");
                }
                assertEquals(
                        204,
                        server.post("/v1/stream/doc", "application/json", body + "]")
                                .statusCode());
            }
            HttpResponse<byte[]> r = get(server, "/v1/stream/doc?offset=-1"); // about 1 MB: two pieces
            assertEquals(200, r.statusCode());
            assertEquals(
                    String.valueOf(r.body().length),
                    r.headers().firstValue("Content-Length").orElse(null));
            JsonNode array = new ObjectMapper().readTree(r.body());
            assertEquals(6000, array.size());
            for (int i = 0; i < 6000; i++) {
                assertEquals(i, array.get(i).get("n").asInt());
            }
        }
    }

    /** A binary stream of {@code appends} appends of 50,000 bytes, each different; returns its bytes. */
    private static byte[] binaryStream(TestServer server, String path, int appends) throws Exception {
        assertEquals(201, server.put(path, "application/octet-stream").statusCode());
        byte[] all = new byte[appends * APPEND];
        for (int i = 0; i < all.length; i++) {
            all[i] = (byte) (i * 31 + i / APPEND);
        }
        for (int a = 0; a < appends; a++) {
            HttpResponse<String> r = server.send(server.request(path)
                    .header("Content-Type", "application/octet-stream")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(all, a * APPEND, APPEND))
                    .build());
            assertEquals(204, r.statusCode());
        }
        return all;
    }

    private static HttpResponse<byte[]> get(TestServer server, String pathAndQuery) throws Exception {
        return server.client()
                .send(server.request(pathAndQuery).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    }
}
