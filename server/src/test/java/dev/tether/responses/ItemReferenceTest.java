package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ResponsesClient.Reply;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code item_reference} input items name an item of the chain, which is what gets stored and sent. */
class ItemReferenceTest {
    @TempDir
    Path dir;

    @Test
    void aReferenceToAnItemOfTheChainIsResolvedAndAnUnknownOneIsA400() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(dir, c -> c.upstream(URI.create(up.url())))) {
            ResponsesClient api = new ResponsesClient(server);
            Reply r1 = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"first question\"}");
            assertEquals(200, r1.status(), r1.body().toString());
            String answerId = r1.body().path("output").get(0).path("id").asText();
            assertTrue(answerId.startsWith("msg_"), r1.body().toString());

            Reply r2 = api.post(
                    "/v1/responses",
                    "{\"model\":\"m\",\"previous_response_id\":\""
                            + r1.body().path("id").asText() + "\",\"input\":["
                            + "{\"type\":\"item_reference\",\"id\":\"" + answerId + "\"},"
                            + "{\"role\":\"user\",\"content\":\"again\"}]}");
            assertEquals(200, r2.status(), r2.body().toString());
            Reply items = api.get("/v1/responses/" + r2.body().path("id").asText() + "/input_items?order=asc");
            JsonNode first = items.body().path("data").get(0);
            assertEquals(answerId, first.path("id").asText(), "stored as the item itself: " + items.body());
            assertEquals("message", first.path("type").asText(), items.body().toString());
            assertEquals("assistant", first.path("role").asText(), items.body().toString());

            Reply unknown = api.post(
                    "/v1/responses", "{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\",\"id\":\"msg_nope\"}]}");
            assertEquals(400, unknown.status(), unknown.body().toString());
            assertEquals(
                    "input[0].id",
                    unknown.body().path("error").path("param").asText(),
                    unknown.body().toString());
        }
    }
}
