package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.TestServer;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed input gets the specific 4xx the protocol names, with a JSON body that says what
 * was wrong; never a 500 and never a hang (every request has a client timeout).
 */
class BadInputTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir, c -> c.maxBodyBytes(1024));
        assertEquals(201, server.put("/v1/stream/text", "text/plain").statusCode());
        assertEquals(201, server.put("/v1/stream/json", "application/json").statusCode());
        assertEquals(204, server.post("/v1/stream/text", "text/plain", "hello").statusCode());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** Asserts the status, the security header and an error body whose message mentions {@code hint}. */
    private static void assertRejected(int status, String hint, HttpResponse<String> res) throws Exception {
        String what = res.request().method() + " " + res.request().uri();
        assertEquals(status, res.statusCode(), what + " -> " + res.body());
        assertEquals(
                "nosniff",
                res.headers().firstValue("X-Content-Type-Options").orElse(null),
                "security headers are on error responses too: " + what);
        JsonNode error = JSON.readTree(res.body()).path("error");
        assertFalse(error.path("code").asText().isEmpty(), "error body has a code: " + res.body());
        assertTrue(
                error.path("message").asText().toLowerCase().contains(hint.toLowerCase()),
                "the message for " + what + " should mention '" + hint + "': " + res.body());
    }

    private static HttpResponse<String> put(String path, String... headers) throws Exception {
        return server.send(server.request(path)
                .headers(headers)
                .PUT(BodyPublishers.noBody())
                .build());
    }

    private static HttpResponse<String> post(String path, String body, String... headers) throws Exception {
        HttpRequest.Builder b = server.request(path).POST(BodyPublishers.ofString(body));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return server.send(b.build());
    }

    private static String tail(String path) throws Exception {
        HttpResponse<String> head = server.send(
                server.request(path).method("HEAD", BodyPublishers.noBody()).build());
        return head.headers().firstValue("Stream-Next-Offset").orElseThrow();
    }

    @Test
    void malformedOffsetsAre400() throws Exception {
        assertRejected(400, "offset", server.get("/v1/stream/text?offset=abc"));
        assertRejected(400, "offset", server.get("/v1/stream/text?offset="));
        assertRejected(400, "once", server.get("/v1/stream/text?offset=-1&offset=now"));
        assertRejected(400, "offset", server.get("/v1/stream/text?offset=0000000000000000_0000000000000001%2C1"));
        String incarnation = tail("/v1/stream/text").substring(0, 17);
        assertRejected(400, "beyond", server.get("/v1/stream/text?offset=" + incarnation + "0000000000099999"));
        assertRejected(
                400,
                "not an offset this server issued",
                server.get("/v1/stream/text?offset=9999999999999999_0" + "000000000000000"));
        assertRejected(400, "offset", server.get("/v1/stream/text?live=long-poll"));
        assertRejected(400, "offset", server.get("/v1/stream/text?live=sse"));
        assertRejected(400, "live", server.get("/v1/stream/text?offset=-1&live=websocket"));
    }

    @Test
    void malformedTtlAndExpiryAre400() throws Exception {
        for (String ttl : new String[] {"03600", "+3600", "3600.0", "3.6e3", "-1", "soon"}) {
            assertRejected(400, "Stream-TTL", put("/v1/stream/ttl-bad", "Stream-TTL", ttl));
        }
        assertRejected(400, "RFC 3339", put("/v1/stream/exp-bad", "Stream-Expires-At", "tomorrow"));
        assertRejected(
                400,
                "not both",
                put("/v1/stream/both", "Stream-TTL", "60", "Stream-Expires-At", "2030-01-01T00:00:00Z"));
    }

    @Test
    void malformedProducerHeadersAre400() throws Exception {
        assertRejected(400, "together", post("/v1/stream/text", "x", "Content-Type", "text/plain", "Producer-Id", "p"));
        assertRejected(
                400,
                "Producer-Seq",
                post(
                        "/v1/stream/text",
                        "x",
                        "Content-Type",
                        "text/plain",
                        "Producer-Id",
                        "p",
                        "Producer-Epoch",
                        "0",
                        "Producer-Seq",
                        "1abc"));
        assertRejected(
                400,
                "Producer-Epoch",
                post(
                        "/v1/stream/text",
                        "x",
                        "Content-Type",
                        "text/plain",
                        "Producer-Id",
                        "p",
                        "Producer-Epoch",
                        "9007199254740992",
                        "Producer-Seq",
                        "0"));
    }

    @Test
    void badBodiesAre400Or413() throws Exception {
        assertRejected(400, "not valid JSON", post("/v1/stream/json", "{ nope }", "Content-Type", "application/json"));
        assertRejected(400, "empty JSON array", post("/v1/stream/json", "[]", "Content-Type", "application/json"));
        assertRejected(
                400, "after its JSON value", post("/v1/stream/json", "{} {}", "Content-Type", "application/json"));
        assertRejected(400, "needs a body", post("/v1/stream/text", "", "Content-Type", "text/plain"));
        assertRejected(400, "Content-Type", post("/v1/stream/text", "data"));
        assertRejected(413, "limit", post("/v1/stream/text", "x".repeat(4096), "Content-Type", "text/plain"));
        assertRejected(409, "content type", post("/v1/stream/text", "{}", "Content-Type", "application/json"));
    }

    @Test
    void badForkHeadersAre400And404() throws Exception {
        assertRejected(400, "Stream-Forked-From", put("/v1/stream/f1", "Stream-Fork-Sub-Offset", "1"));
        assertRejected(
                400,
                "Stream-Fork-Offset",
                put("/v1/stream/f2", "Stream-Forked-From", "/v1/stream/text", "Stream-Fork-Offset", "zzz"));
        assertRejected(
                400,
                "Stream-Fork-Sub-Offset",
                put("/v1/stream/f3", "Stream-Forked-From", "/v1/stream/text", "Stream-Fork-Sub-Offset", "-4"));
        assertRejected(404, "does not exist", put("/v1/stream/f4", "Stream-Forked-From", "/v1/stream/missing"));
        assertRejected(400, "path", put("/v1/stream/f5", "Stream-Forked-From", "/elsewhere/x"));
    }

    private static HttpResponse<String> postBytes(String path, byte[] body, String contentType) throws Exception {
        return server.send(server.request(path)
                .header("Content-Type", contentType)
                .POST(BodyPublishers.ofByteArray(body))
                .build());
    }

    private static byte[] bytes(int... values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (byte) values[i];
        }
        return out;
    }

    /** Finding 22: invalid UTF-8 escapes all decoded to U+FFFD, so different paths named one stream. */
    @Test
    void pathsWhosePercentEscapesAreNotUtf8Are400() throws Exception {
        assertRejected(400, "UTF-8", put("/v1/stream/x%c0%ae", "Content-Type", "text/plain"));
        assertRejected(400, "UTF-8", put("/v1/stream/x%ff%fe", "Content-Type", "text/plain"));
        assertRejected(400, "UTF-8", server.get("/v1/stream/x%ed%a0%80"));
        assertEquals(
                201, put("/v1/stream/caf%C3%A9", "Content-Type", "text/plain").statusCode(), "UTF-8 escapes work");
        assertEquals(200, server.get("/v1/stream/caf%c3%a9").statusCode(), "in either case of hex digit");
    }

    /** Findings 18 and 22: JSON is UTF-8; overlong, surrogate and UTF-16 bodies were stored or gave a 500. */
    @Test
    void jsonBodiesThatAreNotUtf8Are400() throws Exception {
        // ["<overlong '.'>"], ["<encoded surrogate D800>"], ["<truncated>"]
        assertRejected(
                400, "UTF-8", postBytes("/v1/stream/json", bytes('[', '"', 0xC0, 0xAE, '"', ']'), "application/json"));
        assertRejected(
                400,
                "UTF-8",
                postBytes("/v1/stream/json", bytes('[', '"', 0xED, 0xA0, 0x80, '"', ']'), "application/json"));
        assertRejected(
                400, "UTF-8", postBytes("/v1/stream/json", bytes('[', '"', 0xE2, 0x82, '"', ']'), "application/json"));
        byte[] utf16 = "{\"a\":1}".getBytes(java.nio.charset.StandardCharsets.UTF_16LE);
        assertRejected(400, "UTF-8", postBytes("/v1/stream/json", utf16, "application/json"));
        assertRejected(
                400,
                "UTF-8",
                postBytes(
                        "/v1/stream/json",
                        "{\"a\":1}".getBytes(java.nio.charset.StandardCharsets.UTF_16),
                        "application/json"));
        assertRejected(
                400,
                "byte-order mark",
                postBytes("/v1/stream/json", bytes(0xEF, 0xBB, 0xBF, '{', '}'), "application/json"));
        assertEquals(
                204,
                postBytes(
                                "/v1/stream/json",
                                "[\"café \ud83d\ude00\"]".getBytes(java.nio.charset.StandardCharsets.UTF_8),
                                "application/json")
                        .statusCode(),
                "valid multi-byte UTF-8 is fine");
    }

    /** Finding 22: an expiry in 1970 created an already-expired stream with 201. */
    @Test
    void anExpiryInThePastIs400() throws Exception {
        assertRejected(
                400, "not in the future", put("/v1/stream/exp-past", "Stream-Expires-At", "1970-01-01T00:00:00Z"));
        assertRejected(404, "does not exist", server.get("/v1/stream/exp-past"));
        assertEquals(
                201,
                put("/v1/stream/exp-future", "Stream-Expires-At", "2999-01-01T00:00:00Z")
                        .statusCode());
    }

    /** Finding 10: producer state lives as long as its stream, so its ids are small. */
    @Test
    void producerIdsOver256BytesAre400() throws Exception {
        String[] headers = {"Content-Type", "text/plain", "Producer-Epoch", "0", "Producer-Seq", "0", "Producer-Id"};
        String[] tooLong = java.util.Arrays.copyOf(headers, headers.length + 1);
        tooLong[headers.length] = "p".repeat(257);
        assertRejected(400, "256 bytes", post("/v1/stream/text", "x", tooLong));
        String[] longest = java.util.Arrays.copyOf(headers, headers.length + 1);
        longest[headers.length] = "p".repeat(256);
        assertEquals(200, post("/v1/stream/text", "x", longest).statusCode(), "256 bytes are fine");
    }

    /** Finding 22: /health showed the data directory's absolute path to anyone. */
    @Test
    void healthDoesNotRevealWhereTheDataLives() throws Exception {
        HttpResponse<String> health = server.get("/health");
        assertEquals(200, health.statusCode());
        assertFalse(health.body().contains(dir.toAbsolutePath().toString()), "no data path: " + health.body());
        assertFalse(health.body().contains("tether.db"), "no file name either: " + health.body());
        assertEquals("log", JSON.readTree(health.body()).path("store").asText());
    }

    @Test
    void unknownPathsMethodsAndStreamsGetTheirOwnStatus() throws Exception {
        assertRejected(404, "no such endpoint", server.get("/nope"));
        assertRejected(404, "does not exist", server.get("/v1/stream/missing"));
        assertRejected(404, "does not exist", post("/v1/stream/missing", "x", "Content-Type", "text/plain"));
        assertRejected(400, "required", server.get("/v1/stream/"));
        assertRejected(400, "'..'", server.get("/v1/stream/a/../b"));
        assertRejected(
                405,
                "not supported",
                server.send(server.request("/v1/stream/text")
                        .method("PATCH", BodyPublishers.ofString("x"))
                        .build()));
        assertRejected(404, "not supported", server.get("/v1/stream/__ds/subscriptions/x"));
    }
}
