package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ResponsesClient.Reply;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --response-ttl} (seed 003: state without cleanup grows without bound): a stored response
 * and a conversation expire with their streams once unused for the TTL; using them keeps them.
 */
class RetentionTest {
    @TempDir
    Path dir;

    @Test
    void responsesAndConversationsExpireWhenUnusedAndLiveWhileUsed() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(
                        dir, c -> c.upstream(URI.create(up.url())).responseTtl(Duration.ofSeconds(2)))) {
            ResponsesClient api = new ResponsesClient(server);
            String kept = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"kept\"}")
                    .body()
                    .path("id")
                    .asText();
            String dropped = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"dropped\"}")
                    .body()
                    .path("id")
                    .asText();
            String conv = api.post("/v1/conversations", "{}").body().path("id").asText();
            for (int i = 0; i < 6; i++) { // 3 s of use: each read renews the sliding TTL
                Thread.sleep(500);
                assertEquals(200, api.get("/v1/responses/" + kept).status(), "in use: kept");
            }
            assertEquals(404, api.get("/v1/responses/" + dropped).status(), "unused for longer than the TTL");
            assertEquals(
                    404,
                    server.get("/v1/stream/responses/" + dropped + "?offset=-1").statusCode());
            assertEquals(
                    404,
                    server.get("/v1/stream/responses/" + dropped + "/input?offset=-1")
                            .statusCode());
            Reply continued = api.post(
                    "/v1/responses", "{\"model\":\"m\",\"input\":\"x\",\"previous_response_id\":\"" + dropped + "\"}");
            assertEquals(400, continued.status(), continued.body().toString());
            assertEquals(
                    "previous_response_not_found",
                    continued.body().path("error").path("code").asText());
            assertEquals(404, api.get("/v1/conversations/" + conv).status(), "the conversation expired too");
            assertEquals(200, api.get("/v1/responses/" + kept).status());
        }
    }
}
