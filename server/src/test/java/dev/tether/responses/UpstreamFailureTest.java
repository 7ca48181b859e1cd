package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ResponsesClient.Reply;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What clients see when the model backend is missing, failing, slow or partly down. */
class UpstreamFailureTest {
    @TempDir
    Path dir;

    @Test
    void withoutABackendTheErrorSaysHowToConfigureOne() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b)) {
            Reply r = new ResponsesClient(server).post("/v1/responses", "{\"model\":\"m\",\"input\":\"x\"}");
            assertEquals(503, r.status());
            assertEquals("no_backend", r.body().path("error").path("code").asText());
            assertTrue(
                    r.body().path("error").path("message").asText().contains("--upstream"),
                    r.body().toString());
        }
    }

    @Test
    void aFailingUpstreamIsRetriedThenReportedAs502AndAFailedResponse() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(dir, b -> b.upstream(URI.create(up.url())))) {
            ResponsesClient api = new ResponsesClient(server);
            up.then(new ScriptedUpstream.Status(503, "overloaded")).then(ScriptedUpstream.text("fine"));
            Reply ok = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"x\"}");
            assertEquals(200, ok.status(), "one 503 is retried: " + ok.body());
            assertEquals(2, up.requests().size());

            up.then(new ScriptedUpstream.Status(500, "boom")).then(new ScriptedUpstream.Status(500, "boom"));
            Reply failed = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"x\"}");
            assertEquals(502, failed.status(), failed.body().toString());
            assertEquals(
                    "upstream_error", failed.body().path("error").path("code").asText());
            assertTrue(
                    failed.body().path("error").path("message").asText().contains("boom"),
                    failed.body().toString());

            up.then(new ScriptedUpstream.Status(400, "bad tool schema"));
            Reply invalid = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"x\"}");
            assertEquals(400, invalid.status(), "a 4xx upstream is not retried: " + invalid.body());
            assertEquals(5, up.requests().size());

            up.then(new ScriptedUpstream.Status(404, "no such route"));
            Reply misconfigured = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"x\"}");
            assertEquals(
                    502,
                    misconfigured.status(),
                    "an upstream 404 is a misconfiguration, not the prompt's fault (finding 7): "
                            + misconfigured.body());
            String text = misconfigured.body().path("error").path("message").asText();
            assertTrue(text.contains(up.url()) && text.contains("404"), "names the upstream: " + text);
            assertEquals(6, up.requests().size(), "and is not retried");

            up.then(new ScriptedUpstream.Status(500, "boom")).then(new ScriptedUpstream.Status(500, "boom"));
            List<JsonNode> events = api.stream("{\"model\":\"m\",\"input\":\"x\",\"stream\":true}");
            JsonNode last = events.get(events.size() - 1);
            assertEquals("response.failed", last.path("type").asText());
            assertEquals(
                    "upstream_error",
                    last.path("response").path("error").path("code").asText());
        }
    }

    @Test
    void aSilentUpstreamTimesOut() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(
                        dir, b -> b.upstream(URI.create(up.url())).upstreamTimeout(Duration.ofMillis(400)))) {
            up.then(new ScriptedUpstream.Hang()).then(new ScriptedUpstream.Hang());
            Reply r = new ResponsesClient(server).post("/v1/responses", "{\"model\":\"m\",\"input\":\"x\"}");
            assertEquals(502, r.status(), r.body().toString());
            assertTrue(
                    r.body().path("error").path("message").asText().contains("idle timeout"),
                    r.body().toString());
        }
    }

    /**
     * A stateless client resends the whole history each turn: its turns still go to one replica
     * (the one whose prefix cache holds the conversation), found from the conversation's head.
     */
    @Test
    void statelessConversationsStickToOneReplica() throws Exception {
        try (ScriptedUpstream a = ScriptedUpstream.start();
                ScriptedUpstream b = ScriptedUpstream.start();
                TestServer server = TestServer.start(
                        dir, c -> c.upstream(URI.create(a.url())).upstream(URI.create(b.url())))) {
            ResponsesClient api = new ResponsesClient(server);
            // 64 conversations all on one replica would be a 1 in 2^63 chance; 8 turns of one
            // conversation on one replica by chance, 1 in 2^7.
            for (int conversation = 0;
                    conversation < 64 && (a.requests().isEmpty() || b.requests().isEmpty());
                    conversation++) {
                int beforeA = a.requests().size();
                int beforeB = b.requests().size();
                StringBuilder history =
                        new StringBuilder("{\"role\":\"user\",\"content\":\"task " + conversation + "\"}");
                for (int turn = 0; turn < 8; turn++) {
                    Reply r = api.post(
                            "/v1/responses",
                            "{\"model\":\"m\",\"store\":false,\"instructions\":\"be brief\",\"input\":[" + history
                                    + "]}");
                    assertEquals(200, r.status(), r.body().toString());
                    history.append(",{\"role\":\"assistant\",\"content\":")
                            .append(r.body()
                                    .path("output")
                                    .path(0)
                                    .path("content")
                                    .path(0)
                                    .path("text"))
                            .append("},{\"role\":\"user\",\"content\":\"more\"}");
                }
                int toA = a.requests().size() - beforeA;
                int toB = b.requests().size() - beforeB;
                assertTrue(
                        toA == 0 || toB == 0,
                        "all turns of a stateless conversation go to one replica (a=" + toA + ", b=" + toB + ")");
            }
            assertTrue(a.requests().size() > 0 && b.requests().size() > 0, "conversations spread over both replicas");
        }
    }

    @Test
    void chainsStickToOneReplicaAndFailOverWhenItIsDown() throws Exception {
        try (ScriptedUpstream a = ScriptedUpstream.start();
                ScriptedUpstream b = ScriptedUpstream.start();
                TestServer server = TestServer.start(
                        dir, c -> c.upstream(URI.create(a.url())).upstream(URI.create(b.url())))) {
            ResponsesClient api = new ResponsesClient(server);
            // A chain's replica follows from its random root id: chains go on until both replicas
            // have had some (64 chains all on one replica would be a 1 in 2^63 chance).
            for (int chain = 0;
                    chain < 64 && (a.requests().isEmpty() || b.requests().isEmpty());
                    chain++) {
                String prev = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"start\"}")
                        .body()
                        .path("id")
                        .asText();
                int beforeA = a.requests().size();
                int beforeB = b.requests().size();
                for (int turn = 0; turn < 3; turn++) {
                    prev = api.post(
                                    "/v1/responses",
                                    "{\"model\":\"m\",\"input\":\"more\",\"previous_response_id\":\"" + prev + "\"}")
                            .body()
                            .path("id")
                            .asText();
                }
                int toA = a.requests().size() - beforeA;
                int toB = b.requests().size() - beforeB;
                assertTrue(
                        toA == 0 || toB == 0, "all turns of a chain go to one replica (a=" + toA + ", b=" + toB + ")");
            }
            assertTrue(a.requests().size() > 0 && b.requests().size() > 0, "chains spread over both replicas");
        }
        int dead;
        try (ServerSocket s = new ServerSocket(0)) {
            dead = s.getLocalPort();
        }
        try (ScriptedUpstream alive = ScriptedUpstream.start();
                TestServer server = TestServer.start(
                        dir.resolve("2"), c -> c.upstream(URI.create("http://127.0.0.1:" + dead + "/v1"))
                                .upstream(URI.create(alive.url())))) {
            ResponsesClient api = new ResponsesClient(server);
            for (int i = 0; i < 4; i++) {
                Reply r = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"x\"}");
                assertEquals(200, r.status(), "the live replica takes over: " + r.body());
            }
        }
    }
}
