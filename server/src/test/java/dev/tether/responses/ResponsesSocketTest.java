package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Responses WebSocket mode: per-connection cache, errors, warm-up, lanes, age limit. */
class ResponsesSocketTest {
    @TempDir
    Path dir;

    ScriptedUpstream upstream;
    TestServer server;

    @BeforeEach
    void start() throws Exception {
        upstream = ScriptedUpstream.start();
        server = TestServer.start(
                dir, b -> b.upstream(URI.create(upstream.url())).wsMaxAge(Duration.ofSeconds(3)));
    }

    @AfterEach
    void stop() {
        server.close();
        upstream.close();
    }

    /** A WebSocket client collecting frames. */
    static final class Socket implements WebSocket.Listener {
        final BlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
        final StringBuilder partial = new StringBuilder();
        volatile int closeCode = -1;
        WebSocket ws;

        static Socket open(TestServer server) throws Exception {
            Socket s = new Socket();
            s.ws = HttpClient.newHttpClient()
                    .newWebSocketBuilder()
                    .buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/v1/responses"), s)
                    .get(5, TimeUnit.SECONDS);
            return s;
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    frames.add(ResponsesClient.JSON.readTree(partial.toString()));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                partial.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
            closeCode = code;
            return null;
        }

        void send(String json) {
            ws.sendText(json, true).join();
        }

        JsonNode next() throws InterruptedException {
            JsonNode f = frames.poll(10, TimeUnit.SECONDS);
            if (f == null) {
                throw new AssertionError("no frame within 10 s");
            }
            return f;
        }

        /** Frames up to and including a terminal event or an error. */
        List<JsonNode> turn() throws InterruptedException {
            List<JsonNode> got = new ArrayList<>();
            while (true) {
                JsonNode f = next();
                got.add(f);
                String type = f.path("type").asText();
                if (type.equals("error") || type.equals("response.completed") || type.equals("response.failed")) {
                    return got;
                }
            }
        }
    }

    private static JsonNode last(List<JsonNode> frames) {
        return frames.get(frames.size() - 1);
    }

    @Test
    void storeFalseContinuesFromTheConnectionCacheWithOnlyNewInput() throws Exception {
        Socket s = Socket.open(server);
        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"input\":\"hi\"}");
        List<JsonNode> t1 = s.turn();
        assertEquals("response.created", t1.get(0).path("type").asText());
        assertEquals(0, t1.get(0).path("sequence_number").asInt());
        JsonNode r1 = last(t1).path("response");
        assertEquals("echo: hi", ResponsesClient.outputText(r1));

        s.send(
                "{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"stream\":true,\"previous_response_id\":\""
                        + r1.path("id").asText() + "\",\"input\":\"again\"}");
        JsonNode r2 = last(s.turn()).path("response");
        assertEquals("echo: again", ResponsesClient.outputText(r2));
        assertEquals(3, upstream.requests().get(1).path("messages").size(), "the upstream got the whole context");

        s.send(
                "{\"type\":\"response.create\",\"model\":\"m\",\"previous_response_id\":\"resp_unknown\",\"input\":\"x\"}");
        JsonNode error = last(s.turn());
        assertEquals("error", error.path("type").asText());
        assertEquals(400, error.path("status").asInt());
        assertEquals(
                "previous_response_not_found", error.path("error").path("code").asText());

        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"previous_response_id\":\""
                + r2.path("id").asText() + "\",\"input\":\"still there?\"}");
        assertEquals("response.completed", last(s.turn()).path("type").asText(), "an error does not close the socket");

        Socket other = Socket.open(server);
        other.send("{\"type\":\"response.create\",\"model\":\"m\",\"previous_response_id\":\""
                + r2.path("id").asText() + "\",\"input\":\"x\"}");
        assertEquals(
                "previous_response_not_found",
                last(other.turn()).path("error").path("code").asText(),
                "store:false state never leaks to another connection");
    }

    @Test
    void warmUpPreparesStateWithoutCallingTheModel() throws Exception {
        Socket s = Socket.open(server);
        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"generate\":false,"
                + "\"instructions\":\"sys\",\"input\":\"context\"}");
        JsonNode warm = last(s.turn());
        assertEquals("response.completed", warm.path("type").asText());
        assertEquals(0, warm.path("response").path("output").size());
        assertEquals(0, upstream.requests().size(), "generate:false must not reach the model");
        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"instructions\":\"sys\","
                + "\"previous_response_id\":\""
                + warm.path("response").path("id").asText() + "\",\"input\":\"go\"}");
        assertEquals("response.completed", last(s.turn()).path("type").asText());
        assertEquals(3, upstream.requests().get(0).path("messages").size());
    }

    @Test
    void lanesAreTaggedWithTheirStreamIdAndBadIdsAreRejected() throws Exception {
        Socket s = Socket.open(server);
        s.send("{\"type\":\"response.create\",\"stream_id\":\"a\",\"model\":\"m\",\"store\":false,\"input\":\"one\"}");
        List<JsonNode> t = s.turn();
        for (JsonNode f : t) {
            assertEquals("a", f.path("stream_id").asText(), "every event of a named lane carries its stream_id");
        }
        s.send("{\"type\":\"response.create\",\"stream_id\":\"\",\"model\":\"m\",\"input\":\"x\"}");
        assertEquals(
                "invalid_stream_id", last(s.turn()).path("error").path("code").asText());
        s.send("{\"type\":\"response.create\",\"model\":\"m\",\"background\":true,\"input\":\"x\"}");
        assertEquals(
                "background",
                last(s.turn()).path("error").path("param").asText(),
                "background is not supported over WebSocket");
        s.send("{\"type\":\"nonsense\"}");
        assertEquals(
                "unknown_event_type", last(s.turn()).path("error").path("code").asText());
        // Each error is checked by what it says, not just its type: the age-limit error that ends
        // this connection is also an error frame, and must not stand in for a missing one (finding 9).
        s.send("not json");
        JsonNode notJson = last(s.turn());
        assertTrue(
                notJson.path("error").path("message").asText().contains("not valid JSON"),
                "a frame that is not JSON gets its own error: " + notJson);
    }

    @Test
    void theConnectionIsClosedAtItsAgeLimitWithTheDocumentedError() throws Exception {
        Socket s = Socket.open(server);
        JsonNode f = s.frames.poll(10, TimeUnit.SECONDS);
        assertTrue(f != null, "an error frame before the close");
        assertEquals(
                "websocket_connection_limit_reached",
                f.path("error").path("code").asText());
        for (int i = 0; i < 50 && s.closeCode < 0; i++) {
            Thread.sleep(100);
        }
        assertNotEquals(-1, s.closeCode, "the server closed the socket");
    }
}
