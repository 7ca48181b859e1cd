package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.inference.embedded.EmbeddedBackend;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ResponsesClient.Reply;
import dev.tether.testing.Scrapes;
import dev.tether.testing.TestModels;
import dev.tether.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Responses API served by the embedded engine, end to end over HTTP. */
class EmbeddedResponsesTest {
    @TempDir
    Path dir;

    @Test
    void aChainedTurnReportsTheCachedPrefixAsCachedTokens() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.model(TestModels.tiny()))) {
            ResponsesClient api = new ResponsesClient(server);
            Reply r1 = api.post(
                    "/v1/responses",
                    "{\"model\":\"tiny\",\"input\":\"Tell me about rivers and stones."
                            + " Take your time.\",\"temperature\":0,\"max_output_tokens\":8}");
            assertEquals(200, r1.status(), r1.body().toString());
            assertEquals("incomplete", r1.body().path("status").asText(), "8 tokens of greedy gibberish hit the limit");
            JsonNode u1 = r1.body().path("usage");
            assertEquals(8, u1.path("output_tokens").asInt());
            assertEquals(
                    0, u1.path("input_tokens_details").path("cached_tokens").asInt());

            Reply r2 = api.post(
                    "/v1/responses",
                    "{\"model\":\"tiny\",\"previous_response_id\":\""
                            + r1.body().path("id").asText() + "\",\"input\":\"More.\",\"max_output_tokens\":4}");
            assertEquals(200, r2.status(), r2.body().toString());
            JsonNode u2 = r2.body().path("usage");
            assertTrue(
                    u2.path("input_tokens_details").path("cached_tokens").asInt()
                            >= u1.path("input_tokens").asInt(),
                    "the whole first prompt came from the session's cache: " + u2);
            assertTrue(r2.body().path("metadata").isEmpty(), "a real --model adds no demo notice");
        }
    }

    @Test
    void streamingDeliversTheTextAsDeltas() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.model(TestModels.tiny()))) {
            List<JsonNode> events = new ResponsesClient(server)
                            // greedy, on the prompt known to run past 8 tokens: sampling could draw an early end of
                            // turn
                            .stream(
                                    "{\"model\":\"tiny\",\"input\":\"Tell me about rivers and stones. Take your time.\","
                                            + "\"temperature\":0,\"stream\":true,\"max_output_tokens\":6}");
            StringBuilder text = new StringBuilder();
            for (JsonNode e : events) {
                if (e.path("type").asText().equals("response.output_text.delta"))
                    text.append(e.path("delta").asText());
            }
            JsonNode last = events.getLast();
            assertEquals("response.incomplete", last.path("type").asText(), last.toString());
            assertEquals(text.toString(), ResponsesClient.outputText(last.path("response")));
        }
    }

    @Test
    void anInputLongerThanTheContextGetsA400() throws Exception {
        try (TestServer server =
                TestServer.start(dir, b -> b.model(TestModels.tiny()).sessionContext(256))) {
            Reply r = new ResponsesClient(server)
                    .post("/v1/responses", "{\"model\":\"tiny\",\"input\":\"" + "word ".repeat(300) + "\"}");
            assertEquals(400, r.status(), r.body().toString());
            assertEquals(
                    "context_length_exceeded",
                    r.body().path("error").path("code").asText());
        }
    }

    @Test
    void withTruncationAutoTheOldestTurnsAreDroppedUntilTheContextFits() throws Exception {
        try (TestServer server =
                TestServer.start(dir, b -> b.model(TestModels.tiny()).sessionContext(256))) {
            StringBuilder items = new StringBuilder("[");
            for (int i = 0; i < 6; i++) {
                items.append("{\"role\":\"user\",\"content\":\"")
                        .append(("turn" + i + " ").repeat(40))
                        .append("\"},{\"role\":\"assistant\",\"content\":\"ok\"},");
            }
            items.append("{\"role\":\"user\",\"content\":\"Hello\"}]");
            String body = "{\"model\":\"tiny\",\"max_output_tokens\":4,\"input\":" + items;
            ResponsesClient api = new ResponsesClient(server);
            Reply refused = api.post("/v1/responses", body + "}");
            assertEquals(400, refused.status(), "without truncation the context does not fit: " + refused.body());
            Reply r = api.post("/v1/responses", body + ",\"truncation\":\"auto\"}");
            assertEquals(200, r.status(), r.body().toString());
            assertEquals("auto", r.body().path("truncation").asText());
            assertTrue(
                    r.body().path("usage").path("input_tokens").asInt() <= 256,
                    r.body().toString());
            Reply bad = api.post("/v1/responses", body + ",\"truncation\":\"sometimes\"}");
            assertEquals(400, bad.status(), bad.body().toString());
            assertEquals("truncation", bad.body().path("error").path("param").asText());
        }
    }

    @Test
    void thousandsOfInputItemsAreRefusedWithA400BeforeTokenizing() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.model(TestModels.tiny()))) {
            ResponsesClient api = new ResponsesClient(server);
            // Before the fix this took about a minute (quadratic tokenizing): past the client's 10 s timeout.
            Reply r = api.post("/v1/responses", "{\"model\":\"tiny\",\"input\":[" + items(9_000) + "]}");
            assertEquals(400, r.status(), r.body().toString());
            assertEquals(
                    "context_length_exceeded",
                    r.body().path("error").path("code").asText());
            Reply tooMany = api.post("/v1/responses", "{\"model\":\"tiny\",\"input\":[" + items(20_000) + "]}");
            assertEquals(400, tooMany.status(), tooMany.body().toString());
            assertEquals(
                    "input",
                    tooMany.body().path("error").path("param").asText(),
                    "over the item limit: refused before anything is normalized");
        }
    }

    private static String items(int n) {
        StringBuilder input = new StringBuilder();
        for (int i = 0; i < n; i++) {
            input.append(i == 0 ? "" : ",").append("{\"role\":\"user\",\"content\":\"hi\"}");
        }
        return input.toString();
    }

    @Test
    void aDemoModelThatACrashLeftEmptyOrTruncatedIsRegeneratedAtStartUp() throws Exception {
        Path model = dir.resolve("models/demo-small.gguf");
        Files.createDirectories(model.getParent());
        byte[] tiny = Files.readAllBytes(TestModels.tiny());
        for (byte[] broken : List.of(new byte[0], Arrays.copyOf(tiny, tiny.length / 3))) {
            Files.write(model, broken); // what a power cut left under the final name
            try (TestServer server = TestServer.start(dir, b -> b.demoModel(true))) {
                Reply r = new ResponsesClient(server)
                        .post("/v1/responses", "{\"model\":\"any\",\"input\":\"Hello\",\"max_output_tokens\":2}");
                assertEquals(200, r.status(), r.body().toString());
            }
            assertTrue(Files.size(model) > tiny.length, "the demo model was generated again");
        }
    }

    @Test
    void withNoModelAndNoUpstreamTheDemoModelAnswersAndSaysSo() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.demoModel(true))) {
            assertTrue(Files.isRegularFile(dir.resolve("models/demo-small.gguf")), "generated under the data dir");
            Reply r = new ResponsesClient(server)
                    .post("/v1/responses", "{\"model\":\"any\",\"input\":\"Hello\",\"max_output_tokens\":5}");
            assertEquals(200, r.status(), r.body().toString());
            String notice = r.body()
                    .path("metadata")
                    .path(EmbeddedBackend.DEMO_NOTICE_KEY)
                    .asText();
            assertTrue(notice.contains("random text"), r.body().toString());
            assertEquals(5, r.body().path("usage").path("output_tokens").asInt());
            Reply models = new ResponsesClient(server).get("/v1/models");
            assertEquals(200, models.status(), models.body().toString());
            assertEquals(
                    "demo-small",
                    models.body().path("data").get(0).path("id").asText(),
                    models.body().toString());
            assertEquals(
                    "tether", models.body().path("data").get(0).path("owned_by").asText());
        }
    }

    @Test
    void inputTokensCountsWhatTheTurnWillBeChargedWithoutGenerating() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.model(TestModels.tiny()))) {
            ResponsesClient api = new ResponsesClient(server);
            String first = "{\"model\":\"tiny\",\"instructions\":\"be brief\",\"input\":\"Hello there\"";
            Reply counted = api.post("/v1/responses/input_tokens", first + "}");
            assertEquals(200, counted.status(), counted.body().toString());
            assertEquals("response.input_tokens", counted.body().path("object").asText());
            Reply r1 = api.post("/v1/responses", first + ",\"max_output_tokens\":3}");
            assertEquals(
                    r1.body().path("usage").path("input_tokens").asInt(),
                    counted.body().path("input_tokens").asInt(),
                    "the count is what the turn is charged: " + r1.body());
            String next = "{\"model\":\"tiny\",\"previous_response_id\":\""
                    + r1.body().path("id").asText() + "\",\"input\":\"And again\"";
            Reply chained = api.post("/v1/responses/input_tokens", next + "}");
            Reply r2 = api.post("/v1/responses", next + ",\"max_output_tokens\":3}");
            assertEquals(
                    r2.body().path("usage").path("input_tokens").asInt(),
                    chained.body().path("input_tokens").asInt(),
                    "a chain's whole context is counted: " + r2.body());
            assertTrue(chained.body().path("input_tokens").asInt()
                    > counted.body().path("input_tokens").asInt());
        }
    }

    @Test
    void theDemoModelFinishesItsAnswersWithPrintableTextAndSaysItsLimit() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.demoModel(true))) {
            ResponsesClient api = new ResponsesClient(server);
            for (int i = 0; i < 5; i++) {
                Reply r = api.post("/v1/responses", "{\"model\":\"any\",\"input\":\"Hello " + i + "\"}");
                assertEquals(200, r.status(), r.body().toString());
                assertEquals("completed", r.body().path("status").asText(), "ends by itself: " + r.body());
                int limit = r.body().path("max_output_tokens").asInt(-1);
                assertTrue(limit > 0, "the limit it ran under is echoed: " + r.body());
                assertTrue(
                        r.body().path("usage").path("output_tokens").asInt() < limit,
                        r.body().toString());
                String text = r.body()
                        .path("output")
                        .get(0)
                        .path("content")
                        .get(0)
                        .path("text")
                        .asText();
                assertTrue(text.matches("[\\x20-\\x7e]+"), "printable text only: " + text);
            }
        }
    }

    /**
     * A store:false response over HTTP can never be continued, so its session's KV state is
     * dropped when it ends instead of waiting to be evicted; a stored one stays resident.
     */
    @Test
    void aResponseNothingCanContinueLeavesNoKvStateBehind() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.model(TestModels.tiny()))) {
            ResponsesClient api = new ResponsesClient(server);
            String resident = "tether_kv_bytes{where=\"resident\"}";
            Reply stored =
                    api.post("/v1/responses", "{\"model\":\"tiny\",\"input\":\"Hello\",\"max_output_tokens\":4}");
            assertEquals(200, stored.status(), stored.body().toString());
            Scrapes.await(server, resident, 1);
            double before = Scrapes.sample(server.get("/metrics").body(), resident);
            Reply oneShot = api.post(
                    "/v1/responses",
                    "{\"model\":\"tiny\",\"input\":\"Hi there\",\"max_output_tokens\":4,\"store\":false}");
            assertEquals(200, oneShot.status(), oneShot.body().toString());
            for (int i = 0; i < 100 && Scrapes.sample(server.get("/metrics").body(), resident) != before; i++) {
                Thread.sleep(100);
            }
            assertEquals(
                    before,
                    Scrapes.sample(server.get("/metrics").body(), resident),
                    "only the stored chain's KV state is resident");
        }
    }

    /**
     * Retention: deleting a response forgets its chain's KV state (its tokens must not outlive it,
     * in memory or in a spill file), and the KV gauges on /metrics show it.
     */
    @Test
    void deletingAResponseDropsItsKvStateAsTheMetricsShow() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.model(TestModels.tiny()))) {
            ResponsesClient api = new ResponsesClient(server);
            Reply r = api.post("/v1/responses", "{\"model\":\"tiny\",\"input\":\"Hello\",\"max_output_tokens\":4}");
            assertEquals(200, r.status(), r.body().toString());
            String resident = "tether_kv_bytes{where=\"resident\"}";
            Scrapes.await(server, resident, 1);
            assertEquals(
                    200,
                    api.delete("/v1/responses/" + r.body().path("id").asText()).status());
            for (int i = 0; i < 100 && Scrapes.sample(server.get("/metrics").body(), resident) > 0; i++) {
                Thread.sleep(100);
            }
            assertEquals(
                    0.0,
                    Scrapes.sample(server.get("/metrics").body(), resident),
                    "the deleted chain's KV state is gone");
        }
    }
}
