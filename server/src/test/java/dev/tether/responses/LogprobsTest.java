package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ResponsesClient.Reply;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestModels;
import dev.tether.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code include: ["message.output_text.logprobs"]} with {@code top_logprobs}: per output token, from either backend. */
class LogprobsTest {
    private static final String ASK = ",\"include\":[\"message.output_text.logprobs\"],\"top_logprobs\":3";

    @TempDir
    Path dir;

    @Test
    void theEmbeddedEngineScoresEveryOutputTokenAndItsLikeliestAlternatives() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.model(TestModels.tiny()))) {
            ResponsesClient api = new ResponsesClient(server);
            String body = "{\"model\":\"tiny\",\"input\":\"Hello\",\"max_output_tokens\":12,\"temperature\":0";
            Reply r = api.post("/v1/responses", body + ASK + "}");
            assertEquals(200, r.status(), r.body().toString());
            JsonNode part = r.body().path("output").path(0).path("content").path(0);
            JsonNode logprobs = part.path("logprobs");
            assertEquals(r.body().path("usage").path("output_tokens").asInt(), logprobs.size(), "one entry per token");
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (JsonNode e : logprobs) {
                double lp = e.path("logprob").asDouble();
                assertTrue(lp <= 0, "a log-probability: " + e);
                JsonNode top = e.path("top_logprobs");
                assertEquals(3, top.size(), e.toString());
                assertTrue(
                        top.get(0).path("logprob").asDouble()
                                >= top.get(1).path("logprob").asDouble(),
                        e.toString());
                // Greedy: the token taken is the likeliest, so it heads its own alternatives.
                assertEquals(top.get(0).path("token").asText(), e.path("token").asText(), e.toString());
                assertEquals(top.get(0).path("logprob").asDouble(), lp, 1e-9, e.toString());
                e.path("bytes").forEach(b -> bytes.write(b.asInt()));
            }
            assertEquals(
                    part.path("text").asText(), bytes.toString(StandardCharsets.UTF_8), "the bytes spell the text");

            List<JsonNode> events = api.stream(body + ASK + ",\"stream\":true}");
            int streamed = 0;
            for (JsonNode e : events) {
                if (e.path("type").asText().equals("response.output_text.delta"))
                    streamed += e.path("logprobs").size();
            }
            JsonNode done = events.stream()
                    .filter(e -> e.path("type").asText().equals("response.output_text.done"))
                    .findFirst()
                    .orElseThrow();
            assertEquals(done.path("logprobs").size(), streamed, "the deltas carry every token's entry");
            assertEquals(logprobs.size(), streamed, "streamed as in the stored answer");

            Reply plain = api.post("/v1/responses", body + "}");
            assertEquals(
                    0,
                    plain.body()
                            .path("output")
                            .path(0)
                            .path("content")
                            .path(0)
                            .path("logprobs")
                            .size(),
                    "none unless asked for");
        }
    }

    @Test
    void anUpstreamIsAskedForLogprobsAndItsEntriesReachTheClient() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(dir, c -> c.upstream(URI.create(up.url())))) {
            up.then(ScriptedUpstream.text("Hel", "lo"));
            Reply r =
                    new ResponsesClient(server).post("/v1/responses", "{\"model\":\"m\",\"input\":\"hi\"" + ASK + "}");
            assertEquals(200, r.status(), r.body().toString());
            JsonNode sent = up.requests().get(0);
            assertTrue(sent.path("logprobs").asBoolean(), sent.toString());
            assertEquals(3, sent.path("top_logprobs").asInt(), sent.toString());
            JsonNode logprobs =
                    r.body().path("output").path(0).path("content").path(0).path("logprobs");
            assertEquals(2, logprobs.size(), logprobs.toString());
            assertEquals("lo", logprobs.get(1).path("token").asText());
            assertEquals(-0.5, logprobs.get(1).path("logprob").asDouble(), 1e-9);
            assertEquals(3, logprobs.get(1).path("top_logprobs").size());
            assertEquals(
                    "alt1",
                    logprobs.get(1).path("top_logprobs").get(1).path("token").asText());

            up.then(ScriptedUpstream.text("x"));
            new ResponsesClient(server).post("/v1/responses", "{\"model\":\"m\",\"input\":\"hi\"}");
            assertFalse(up.requests().get(1).has("logprobs"), "not asked for unless the client includes them");
        }
    }

    @Test
    void badIncludeOrTopLogprobsAre400sNamingTheField() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(dir, c -> c.upstream(URI.create(up.url())))) {
            ResponsesClient api = new ResponsesClient(server);
            Reply unknown =
                    api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"hi\",\"include\":[\"everything\"]}");
            assertEquals(400, unknown.status(), unknown.body().toString());
            assertEquals(
                    "include[0]", unknown.body().path("error").path("param").asText());
            Reply notList = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"hi\",\"include\":\"x\"}");
            assertEquals(
                    "include",
                    notList.body().path("error").path("param").asText(),
                    notList.body().toString());
            Reply tooMany = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"hi\",\"top_logprobs\":21}");
            assertEquals(400, tooMany.status(), tooMany.body().toString());
            assertEquals(
                    "top_logprobs", tooMany.body().path("error").path("param").asText());
        }
    }
}
