package dev.tether.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.TetherServer;
import dev.tether.client.AgentSession;
import dev.tether.client.TetherClient;
import dev.tether.config.ServerConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example agent answers a user through openai-java and Tether's own Responses API (the demo model). */
class SupportAgentTest {
    static final String USER = "user-secret-0123456789";
    static final String AGENT = "agent-secret-0123456789";

    @TempDir
    Path dir;

    @Test
    void theExampleAgentAnswersAUserMessageThroughTheResponsesApi() throws Exception {
        Path auth = dir.resolve("auth.json");
        Files.writeString(
                auth,
                """
                {"keys": [
                  {"name": "user", "secret": "%s", "capabilities": {"sessions/*": ["create", "read", "join", "publish"]}},
                  {"name": "agent", "secret": "%s", "capabilities": {"sessions/*": ["read", "join", "publish"], "responses": ["create", "read"]}}]}
                """
                        .formatted(USER, AGENT));
        try (TetherServer server = TetherServer.start(ServerConfig.builder()
                .port(0)
                .dataDir(dir.resolve("data"))
                .longPollTimeout(Duration.ofMillis(500))
                .eventLoops(2)
                .demoModel(true)
                .authConfig(auth)
                .build())) {
            String base = "http://127.0.0.1:" + server.port();
            TetherClient user = TetherClient.of(URI.create(base), () -> USER);
            String session = user.createSession(null);
            try (AgentSession agent =
                    SupportAgent.start(TetherClient.of(URI.create(base), () -> AGENT), base, AGENT, session, "demo")) {
                user.sendMessage(session, "Where is my order?");
                JsonNode run = awaitEndedRun(base, session);
                assertEquals("completed", run.path("status").asText(), run.toString());
                assertFalse(run.path("text").asText().isEmpty(), "the demo model's answer was streamed into the run");
                assertEquals("key:agent", run.path("agent").asText(), "written by the example agent " + agent.id());
            }
        }
    }

    private static JsonNode awaitEndedRun(String base, String session) throws Exception {
        ObjectMapper json = new ObjectMapper();
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = http.send(
                    HttpRequest.newBuilder(URI.create(base + "/v1/sessions/" + session + "/events?offset=-1"))
                            .header("Authorization", "Bearer " + USER)
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            JsonNode last = null;
            for (JsonNode e : json.readTree(r.body())) {
                if (e.path("type").asText().equals("run")) {
                    last = e.path("value");
                }
            }
            if (last != null
                    && !Set.of("running", "queued", "waiting_approval")
                            .contains(last.path("status").asText())) {
                return last;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no run ended within 60 s");
    }
}
