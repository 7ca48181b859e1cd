package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ResponsesClient.Reply;
import dev.tether.testing.TestModels;
import dev.tether.testing.TestServer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Compaction on the embedded engine: the engine writes the summary, and counts tokens exactly. */
class EmbeddedCompactionTest {
    @TempDir
    Path dir;

    @Test
    void theEngineWritesTheSummaryOfACompactedContext() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.model(TestModels.tiny()))) {
            Reply r = new ResponsesClient(server)
                    .post(
                            "/v1/responses/compact",
                            "{\"model\":\"tiny\",\"temperature\":0,\"max_output_tokens\":6,\"input\":["
                                    + "{\"role\":\"user\",\"content\":\"Tell me about rivers and stones. Take your time.\"},"
                                    + "{\"role\":\"assistant\",\"content\":\"Rivers carry stones.\"},"
                                    + "{\"role\":\"user\",\"content\":\"More.\"}]}");
            assertEquals(200, r.status(), r.body().toString());
            JsonNode output = r.body().path("output");
            assertEquals(
                    "compaction", output.get(0).path("type").asText(), r.body().toString());
            Compaction.Content c =
                    Compaction.decode(output.get(0).path("encrypted_content").asText());
            assertNotNull(c, output.toString());
            assertFalse(c.summary().isEmpty(), "the engine wrote something: " + r.body());
            assertEquals(
                    "More.", output.get(1).path("content").get(0).path("text").asText());
            JsonNode usage = r.body().path("usage");
            assertEquals(6, usage.path("output_tokens").asInt(), "greedy gibberish runs to the limit: " + usage);
            assertTrue(usage.path("input_tokens").asInt() > 20, "the prefix was prefilled: " + usage);
        }
    }

    @Test
    void automaticCompactionCountsExactlyAndTheNextTurnIsChargedForTheWindowOnly() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.model(TestModels.tiny()))) {
            ResponsesClient api = new ResponsesClient(server);
            String cm = ",\"context_management\":[{\"type\":\"compaction\",\"compact_threshold\":1000}]";
            Reply r1 = api.post(
                    "/v1/responses",
                    "{\"model\":\"tiny\",\"max_output_tokens\":2,\"input\":\"" + "stone ".repeat(400) + "\"" + cm
                            + "}");
            assertEquals(200, r1.status(), r1.body().toString());
            int full = r1.body().path("usage").path("input_tokens").asInt();
            assertTrue(full > 1000, "turn 1 alone is over the threshold: " + full);
            assertEquals(
                    "message",
                    r1.body().path("output").get(0).path("type").asText(),
                    "one turn has nothing before it to compact: " + r1.body());

            Reply r2 = api.post(
                    "/v1/responses",
                    "{\"model\":\"tiny\",\"max_output_tokens\":2,\"temperature\":0,\"previous_response_id\":\""
                            + r1.body().path("id").asText() + "\",\"input\":\"More.\"" + cm + "}");
            assertEquals(200, r2.status(), r2.body().toString());
            assertEquals(
                    "compaction",
                    r2.body().path("output").get(0).path("type").asText(),
                    r2.body().toString());

            Reply r3 = api.post(
                    "/v1/responses",
                    "{\"model\":\"tiny\",\"max_output_tokens\":2,\"previous_response_id\":\""
                            + r2.body().path("id").asText() + "\",\"input\":\"Again.\"}");
            assertEquals(200, r3.status(), r3.body().toString());
            int after = r3.body().path("usage").path("input_tokens").asInt();
            assertTrue(after < 200, "turn 3 sees the summary, not the " + full + "-token prefix: " + after);
        }
    }
}
