package dev.tether.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.SessionClient;
import dev.tether.testing.TestModels;
import dev.tether.testing.TestServer;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The built-in agent on the embedded engine: each turn continues the last, so the session's KV cache is reused. */
class EmbeddedAgentTest {
    @TempDir
    Path dir;

    @Test
    void theSecondTurnReusesTheSessionsPinnedKvCache() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.model(TestModels.tiny()))) {
            SessionClient c = new SessionClient(server, null);
            String id = c.create("{\"agent\":{\"model\":\"tiny\",\"instructions\":\"Answer.\",\"max_output_tokens\":16,"
                    + "\"temperature\":0}}");
            JsonNode first = run(c, id, "Tell me about rivers and stones. Take your time.");
            JsonNode second = run(c, id, "And what can you do?");
            List<JsonNode> log = c.log(id);
            for (JsonNode r : List.of(first, second)) {
                assertEquals(
                        SessionClient.runText(log, r.path("id").asText()),
                        r.path("text").asText(),
                        "the chunks concatenate to the run's text");
                assertFalse(r.path("text").asText().isEmpty(), "the model wrote something");
            }
            String metrics = server.get("/metrics").body();
            assertTrue(metrics.contains("tether_sessions 1.0"), "the sessions gauge counts it");
            assertTrue(
                    metrics.contains("tether_session_runs_total{agent=\"built_in\",status="),
                    "runs are counted by outcome: " + metrics);
            long cached = second.path("usage")
                    .path("input_tokens_details")
                    .path("cached_tokens")
                    .asLong();
            long firstPrompt = first.path("usage").path("input_tokens").asLong();
            assertTrue(
                    firstPrompt > 0 && cached >= firstPrompt,
                    "turn 2 found turn 1's whole prompt in the session's KV cache (" + cached + " cached, "
                            + second.path("usage") + "; turn 1's prompt had " + firstPrompt + ")");
        }
    }

    private static JsonNode run(SessionClient c, String id, String text) throws Exception {
        String run = c.post(
                        "/v1/sessions/" + id + "/messages",
                        SessionClient.JSON
                                .createObjectNode()
                                .put("content", text)
                                .toString())
                .body()
                .path("run")
                .path("id")
                .asText();
        List<JsonNode> log = c.awaitLog(
                id,
                e -> e.path("key").asText().equals(run)
                        && Set.of("completed", "incomplete")
                                .contains(e.path("value").path("status").asText()));
        return SessionClient.fold(log).get("run/" + run);
    }
}
