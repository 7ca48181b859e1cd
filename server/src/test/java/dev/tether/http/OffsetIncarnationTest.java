package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.TestServer;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 20 of the outside probe: read stream A to an offset, delete A, create it again with
 * new data, and the old offset read the new stream's bytes from the middle. Offsets now carry
 * the incarnation of the stream that issued them: an old one is 410, while a fork still takes
 * its source's offsets up to the fork point (the byte space is shared, Durable Streams §4.2).
 */
class OffsetIncarnationTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private TestServer server;

    @BeforeEach
    void start() throws Exception {
        server = TestServer.start(dir, c -> c);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private String create(String path, String body) throws Exception {
        HttpResponse<String> res = server.send(server.request(path)
                .header("Content-Type", "text/plain")
                .PUT(HttpRequest.BodyPublishers.ofString(body))
                .build());
        assertEquals(201, res.statusCode(), res.body());
        return res.headers().firstValue("Stream-Next-Offset").orElseThrow();
    }

    private HttpResponse<String> delete(String path) throws Exception {
        return server.send(server.request(path).DELETE().build());
    }

    private static void assertGone(HttpResponse<String> res, String what) throws Exception {
        assertEquals(410, res.statusCode(), what + ": " + res.body());
        assertEquals(
                "gone", JSON.readTree(res.body()).path("error").path("code").asText());
        assertTrue(res.body().contains("-1"), "the message says how to start over: " + res.body());
    }

    @Test
    void anOffsetOfADeletedAndRecreatedStreamIsGoneNotTheNewStreamsBytes() throws Exception {
        String old = create("/v1/stream/a", "twenty-one bytes long");
        assertEquals(204, delete("/v1/stream/a").statusCode());
        String fresh = create("/v1/stream/a", "a new stream with other, longer data");
        assertNotEquals(old.substring(0, 16), fresh.substring(0, 16), "a new incarnation: a new offset prefix");
        assertGone(server.get("/v1/stream/a?offset=" + old), "catch-up read with the old stream's offset");
        assertGone(server.get("/v1/stream/a?offset=" + old + "&live=long-poll"), "long-poll with it");
        assertGone(server.get("/v1/stream/a?offset=" + old + "&live=sse"), "SSE with it");
        assertEquals(
                "a new stream with other, longer data",
                server.get("/v1/stream/a?offset=-1").body(),
                "reading from -1 is the way back");
        assertEquals(200, server.get("/v1/stream/a?offset=" + fresh).statusCode(), "its own offsets work");
    }

    @Test
    void aForkTakesItsSourcesOffsetsUpToTheForkPointAndNoneOfItsOwnWorkOnTheSource() throws Exception {
        String sourceTail = create("/v1/stream/src", "inherited;");
        HttpResponse<String> fork = server.send(server.request("/v1/stream/fork")
                .header("Content-Type", "text/plain")
                .header("Stream-Forked-From", "/v1/stream/src")
                .header("Stream-Fork-Offset", sourceTail)
                .PUT(HttpRequest.BodyPublishers.noBody())
                .build());
        assertEquals(201, fork.statusCode(), fork.body());
        assertEquals(204, server.post("/v1/stream/fork", "text/plain", "own;").statusCode());
        HttpResponse<String> later = server.post("/v1/stream/src", "text/plain", "source only;");
        String sourceLater = later.headers().firstValue("Stream-Next-Offset").orElseThrow();

        HttpResponse<String> fromSourceOffset = server.get("/v1/stream/fork?offset=" + sourceTail);
        assertEquals(200, fromSourceOffset.statusCode(), fromSourceOffset.body());
        assertEquals("own;", fromSourceOffset.body(), "the source's offset at the fork point reads the fork's data");
        assertGone(
                server.get("/v1/stream/fork?offset=" + sourceLater),
                "a source offset past the fork point, on the fork");
        String forkTail =
                fromSourceOffset.headers().firstValue("Stream-Next-Offset").orElseThrow();
        assertGone(server.get("/v1/stream/src?offset=" + forkTail), "a fork's offset on its source");

        HttpResponse<String> all = server.get("/v1/stream/fork?offset=-1");
        assertEquals("inherited;own;", all.body());
        HttpResponse<String> badFork = server.send(server.request("/v1/stream/fork2")
                .header("Content-Type", "text/plain")
                .header("Stream-Forked-From", "/v1/stream/src")
                .header("Stream-Fork-Offset", forkTail)
                .PUT(HttpRequest.BodyPublishers.noBody())
                .build());
        assertEquals(400, badFork.statusCode(), "a fork point must be an offset of the source: " + badFork.body());
    }

    @Test
    void aLiveSseReaderOfADeletedStreamIsToldWhyBeforeTheResponseEnds() throws Exception {
        String tail = create("/v1/stream/tailed", "x");
        HttpResponse<Stream<String>> sse = server.client()
                .send(
                        server.request("/v1/stream/tailed?offset=" + tail + "&live=sse")
                                .GET()
                                .build(),
                        HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, sse.statusCode());
        Iterator<String> lines = sse.body().iterator();
        // The first control event: the session is caught up and watching the stream.
        while (!lines.next().startsWith("data:{\"streamNextOffset\"")) {}
        assertEquals(204, delete("/v1/stream/tailed").statusCode());
        StringBuilder rest = new StringBuilder();
        lines.forEachRemaining(line -> rest.append(line).append('\n'));
        assertTrue(rest.toString().contains("event: error\ndata:"), "an error event before the end: " + rest);
        assertTrue(rest.toString().contains("\"code\":\"not_found\""), "saying the stream is gone: " + rest);
    }
}
