package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ResponsesClient.Reply;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code POST /v1/responses/compact}, the {@code compaction} item in later turns, and automatic
 * compaction ({@code context_management}), against a scripted upstream that records what it got.
 */
class CompactionTest {
    private static final String THREE_TURNS = "[{\"role\":\"user\",\"content\":\"first question about rivers\"},"
            + "{\"role\":\"assistant\",\"content\":\"rivers flow downhill\"},"
            + "{\"role\":\"user\",\"content\":\"and stones?\"}]";
    /** About 1,350 estimated tokens (a quarter of the characters). */
    private static final String LONG = "granite ".repeat(680);

    @TempDir
    Path dir;

    private TestServer server(ScriptedUpstream up) throws Exception {
        return TestServer.start(dir, c -> c.upstream(URI.create(up.url())));
    }

    /** Every message text the upstream got in request {@code i}, joined. */
    private static String sent(ScriptedUpstream up, int i) {
        StringBuilder b = new StringBuilder();
        for (JsonNode m : up.requests().get(i).path("messages")) {
            b.append(m.path("role").asText())
                    .append(": ")
                    .append(m.path("content").asText())
                    .append('\n');
        }
        return b.toString();
    }

    @Test
    void compactSendsTheSummarisingRequestUpstreamAndReturnsTheCompactedWindow() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = server(up)) {
            up.then(ScriptedUpstream.text("They asked ", "about rivers."));
            Reply r = new ResponsesClient(server)
                    .post("/v1/responses/compact", "{\"model\":\"m\",\"input\":" + THREE_TURNS + "}");
            assertEquals(200, r.status(), r.body().toString());
            assertEquals("response.compaction", r.body().path("object").asText());
            assertTrue(r.body().path("created_at").asLong() > 0, r.body().toString());
            JsonNode output = r.body().path("output");
            assertEquals(2, output.size(), "the compaction item, then the latest user message: " + r.body());
            JsonNode item = output.get(0);
            assertEquals("compaction", item.path("type").asText());
            assertTrue(item.path("id").asText().startsWith("cmp_"), item.toString());
            Compaction.Content content =
                    Compaction.decode(item.path("encrypted_content").asText());
            assertNotNull(content, "encrypted_content decodes: " + item);
            assertEquals("They asked about rivers.", content.summary());
            assertEquals("and stones?", ResponsesClient.outputText(JsonOf.array(output.get(1))));
            JsonNode usage = r.body().path("usage");
            assertEquals(2, usage.path("output_tokens").asInt(), "the summary's two chunks: " + usage);
            assertEquals(
                    usage.path("input_tokens").asInt() + 2,
                    usage.path("total_tokens").asInt(),
                    usage.toString());

            assertEquals(1, up.requests().size(), "one summarising request");
            String summarising = sent(up, 0);
            assertTrue(summarising.contains("first question about rivers"), summarising);
            assertTrue(summarising.contains("rivers flow downhill"), summarising);
            assertFalse(summarising.contains("and stones?"), "the kept turn is not summarised: " + summarising);
            assertTrue(summarising.endsWith("user: " + Compactor.SUMMARISE + "\n"), summarising);
            assertTrue(
                    up.requests().get(0).path("tools").isMissingNode(),
                    "no tools are offered for a summary: " + up.requests().get(0));
        }
    }

    @Test
    void aCompactionItemBecomesItsSummaryInLaterTurnsAndTheCompactedPrefixIsGone() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = server(up)) {
            ResponsesClient api = new ResponsesClient(server);
            up.then(ScriptedUpstream.text("SUMMARY-7 rivers"));
            Reply compacted = api.post("/v1/responses/compact", "{\"model\":\"m\",\"input\":" + THREE_TURNS + "}");
            assertEquals(200, compacted.status(), compacted.body().toString());
            ArrayNode input = (ArrayNode) compacted.body().path("output").deepCopy();
            input.addObject().put("role", "user").put("content", "what next?");

            Reply r1 = api.post("/v1/responses", "{\"model\":\"m\",\"input\":" + input + "}");
            assertEquals(200, r1.status(), r1.body().toString());
            String turn = sent(up, 1);
            assertTrue(
                    turn.contains("system: " + Compaction.SUMMARY_PREFIX + "SUMMARY-7 rivers"),
                    "the summary stands for the prefix: " + turn);
            assertFalse(turn.contains("first question about rivers"), turn);
            assertTrue(turn.contains("and stones?") && turn.contains("what next?"), turn);

            Reply r2 = api.post(
                    "/v1/responses",
                    "{\"model\":\"m\",\"previous_response_id\":\""
                            + r1.body().path("id").asText() + "\",\"input\":\"and then?\"}");
            assertEquals(200, r2.status(), r2.body().toString());
            String chained = sent(up, 2);
            assertTrue(chained.contains("SUMMARY-7 rivers"), "replayed through the chain: " + chained);
            assertFalse(chained.contains("first question about rivers"), chained);
        }
    }

    @Test
    void automaticCompactionOverTheThresholdCompactsFirstAndLaterTurnsUseTheWindow() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = server(up)) {
            ResponsesClient api = new ResponsesClient(server);
            Reply r1 = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"" + LONG + "\"}");
            assertEquals(200, r1.status(), r1.body().toString());

            up.then(ScriptedUpstream.text("SUMMARY-A granite"));
            String cm = "\"context_management\":[{\"type\":\"compaction\",\"compact_threshold\":1000}]";
            List<JsonNode> events = api.stream("{\"model\":\"m\",\"stream\":true,\"previous_response_id\":\""
                    + r1.body().path("id").asText() + "\",\"input\":\"short question\"," + cm + "}");
            JsonNode added = events.stream()
                    .filter(e -> e.path("type").asText().equals("response.output_item.added"))
                    .findFirst()
                    .orElseThrow();
            assertEquals("compaction", added.path("item").path("type").asText(), "streamed first: " + added);
            assertEquals(0, added.path("output_index").asInt());
            JsonNode r2 = events.getLast().path("response");
            assertEquals("completed", r2.path("status").asText(), r2.toString());
            assertEquals("compaction", r2.path("output").get(0).path("type").asText(), r2.toString());
            assertEquals("echo: short question", ResponsesClient.outputText(r2));
            assertEquals(
                    1000,
                    r2.path("context_management")
                            .get(0)
                            .path("compact_threshold")
                            .asInt(),
                    "echoed");
            assertEquals(
                    1 + 2,
                    r2.path("usage").path("output_tokens").asInt(),
                    "the summary's chunk and the answer's two: " + r2.path("usage"));

            assertEquals(3, up.requests().size(), "turn 1, the summary, turn 2");
            assertTrue(sent(up, 1).contains("granite granite"), "the summary is of the long prefix");
            String turn2 = sent(up, 2);
            assertTrue(turn2.contains("SUMMARY-A granite"), turn2);
            assertFalse(turn2.contains("granite granite"), "the long prefix is not sent again: " + turn2);
            assertTrue(turn2.contains("short question"), turn2);

            Reply r3 = api.post(
                    "/v1/responses",
                    "{\"model\":\"m\",\"previous_response_id\":\""
                            + r2.path("id").asText() + "\",\"input\":\"third\"," + cm + "}");
            assertEquals(200, r3.status(), r3.body().toString());
            assertEquals(4, up.requests().size(), "the compacted chain is under the threshold: no new summary");
            String turn3 = sent(up, 3);
            assertTrue(turn3.contains("SUMMARY-A granite") && turn3.contains("short question"), turn3);
            assertFalse(turn3.contains("granite granite"), "the chain continues from the window: " + turn3);
            assertEquals(
                    "message",
                    r3.body().path("output").get(0).path("type").asText(),
                    r3.body().toString());
        }
    }

    @Test
    void aConversationCompactsAutomaticallyAndItsNextTurnSendsTheSummary() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = server(up)) {
            ResponsesClient api = new ResponsesClient(server);
            Reply conv = api.post("/v1/conversations", "{}");
            assertEquals(200, conv.status(), conv.body().toString());
            String in = "\"conversation\":\"" + conv.body().path("id").asText() + "\"";
            String cm = ",\"context_management\":[{\"type\":\"compaction\",\"compact_threshold\":1000}]";
            assertEquals(
                    200,
                    api.post("/v1/responses", "{\"model\":\"m\"," + in + ",\"input\":\"" + LONG + "\"}")
                            .status());
            up.then(ScriptedUpstream.text("SUMMARY-C"));
            Reply r2 = api.post("/v1/responses", "{\"model\":\"m\"," + in + ",\"input\":\"q2\"" + cm + "}");
            assertEquals(
                    "compaction",
                    r2.body().path("output").get(0).path("type").asText(),
                    r2.body().toString());
            Reply r3 = api.post("/v1/responses", "{\"model\":\"m\"," + in + ",\"input\":\"q3\"}");
            assertEquals(200, r3.status(), r3.body().toString());
            String turn3 = sent(up, up.requests().size() - 1);
            assertTrue(turn3.contains("SUMMARY-C") && turn3.contains("q2") && turn3.contains("q3"), turn3);
            assertFalse(turn3.contains("granite granite"), "the conversation continues from the window: " + turn3);
        }
    }

    @Test
    void belowTheThresholdNothingIsCompacted() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = server(up)) {
            Reply r = new ResponsesClient(server)
                    .post(
                            "/v1/responses",
                            "{\"model\":\"m\",\"input\":" + THREE_TURNS
                                    + ",\"context_management\":[{\"type\":\"compaction\",\"compact_threshold\":1000}]}");
            assertEquals(200, r.status(), r.body().toString());
            assertEquals(1, up.requests().size(), "no summarising request");
            assertEquals(1, r.body().path("output").size(), r.body().toString());
            assertEquals("message", r.body().path("output").get(0).path("type").asText());
        }
    }

    @Test
    void badCompactionRequestsAre400sNamingTheField() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = server(up)) {
            ResponsesClient api = new ResponsesClient(server);
            assertBad(
                    api.post(
                            "/v1/responses",
                            "{\"model\":\"m\",\"input\":\"x\",\"context_management\":"
                                    + "[{\"type\":\"compaction\",\"compact_threshold\":999}]}"),
                    "context_management[0].compact_threshold");
            assertBad(
                    api.post(
                            "/v1/responses",
                            "{\"model\":\"m\",\"input\":\"x\",\"context_management\":"
                                    + "[{\"type\":\"compaction\",\"compact_threshold\":\"2000\"}]}"),
                    "context_management[0].compact_threshold");
            assertBad(
                    api.post(
                            "/v1/responses",
                            "{\"model\":\"m\",\"input\":\"x\",\"context_management\":"
                                    + "[{\"type\":\"summarise\",\"compact_threshold\":2000}]}"),
                    "context_management[0].type");
            assertBad(
                    api.post(
                            "/v1/responses",
                            "{\"model\":\"m\",\"input\":\"x\",\"context_management\":{\"type\":\"compaction\"}}"),
                    "context_management");
            assertBad(
                    api.post(
                            "/v1/responses",
                            "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"hi\"},"
                                    + "{\"type\":\"compaction\",\"encrypted_content\":\"gAAAAABforged\"}]}"),
                    "input[1].encrypted_content");
            assertBad(
                    api.post(
                            "/v1/responses/compact",
                            "{\"model\":\"m\",\"input\":[{\"type\":\"compaction\",\"encrypted_content\":\""
                                    + Compaction.VERSION + "!!not-base64\"},{\"role\":\"user\",\"content\":\"x\"}]}"),
                    "input[0].encrypted_content");
            assertBad(api.post("/v1/responses/compact", "{\"model\":\"m\",\"input\":\"only one turn\"}"), "input");
            assertEquals(0, up.requests().size(), "nothing reached the upstream");

            Reply get = new ResponsesClient.Reply(
                    server.get("/v1/responses/compact").statusCode(), null);
            assertEquals(405, get.status(), "compact is POST only");
        }
    }

    @Test
    void anUpstreamFailingWhileSummarisingIsA502NamingIt() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = server(up)) {
            up.then(new ScriptedUpstream.Status(500, "boom")).then(new ScriptedUpstream.Status(500, "boom"));
            Reply r = new ResponsesClient(server)
                    .post("/v1/responses/compact", "{\"model\":\"m\",\"input\":" + THREE_TURNS + "}");
            assertEquals(502, r.status(), r.body().toString());
            assertEquals(
                    "upstream_error",
                    r.body().path("error").path("code").asText(),
                    r.body().toString());
            String message = r.body().path("error").path("message").asText();
            assertTrue(message.contains("127.0.0.1") && message.contains("boom"), message);
        }
    }

    private static void assertBad(Reply r, String param) {
        assertEquals(400, r.status(), r.body().toString());
        assertEquals(
                param, r.body().path("error").path("param").asText(), r.body().toString());
        assertFalse(
                r.body().path("error").path("message").asText().isBlank(),
                r.body().toString());
    }

    /** Wraps an item as {@code {"output":[item]}} for {@link ResponsesClient#outputText}. */
    private static final class JsonOf {
        static JsonNode array(JsonNode item) {
            ObjectNode o = ResponsesClient.JSON.createObjectNode();
            o.putArray("output").add(item);
            return o;
        }
    }
}
