package dev.tether.responses;

import static dev.tether.responses.ResponsesHttpTest.assertError;
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

class ConversationsTest {
    @TempDir
    Path dir;

    @Test
    void responsesInAConversationSeeAndExtendItsItems() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start()) {
            String conv;
            try (TestServer server = TestServer.start(dir, b -> b.upstream(URI.create(up.url())))) {
                ResponsesClient api = new ResponsesClient(server);
                Reply c = api.post(
                        "/v1/conversations",
                        "{\"metadata\":{\"topic\":\"t\"},"
                                + "\"items\":[{\"role\":\"developer\",\"content\":\"be nice\"}]}");
                assertEquals(200, c.status(), c.body().toString());
                conv = c.body().path("id").asText();
                assertTrue(conv.startsWith("conv_"));
                assertEquals("t", c.body().path("metadata").path("topic").asText());
                api.post("/v1/responses", "{\"model\":\"m\",\"conversation\":\"" + conv + "\",\"input\":\"one\"}");
                Reply r2 = api.post(
                        "/v1/responses",
                        "{\"model\":\"m\",\"conversation\":{\"id\":\"" + conv + "\"},\"input\":\"two\"}");
                assertEquals(conv, r2.body().path("conversation").path("id").asText());
                assertEquals(4, up.requests().get(1).path("messages").size(), "developer, one, echo one, two");
                assertError(
                        api.post(
                                "/v1/responses",
                                "{\"model\":\"m\",\"conversation\":\"" + conv + "\",\"previous_response_id\":\""
                                        + r2.body().path("id").asText() + "\",\"input\":\"x\"}"),
                        400,
                        "conversation",
                        null);
                assertError(
                        api.post(
                                "/v1/responses", "{\"model\":\"m\",\"conversation\":\"conv_missing\",\"input\":\"x\"}"),
                        404,
                        "conversation",
                        null);
            }
            try (TestServer server = TestServer.start(dir, b -> b.upstream(URI.create(up.url())))) {
                ResponsesClient api = new ResponsesClient(server);
                JsonNode items = api.get("/v1/conversations/" + conv + "/items").body();
                assertEquals(5, items.path("data").size(), "kept across a restart: " + items);
                assertEquals(
                        "echo: two",
                        ResponsesClient.outputText(ResponsesClient.JSON
                                .createObjectNode()
                                .set(
                                        "output",
                                        ResponsesClient.JSON
                                                .createArrayNode()
                                                .add(items.path("data").get(0)))),
                        "default order is newest first");
                String first = items.path("data").get(4).path("id").asText();
                assertEquals(
                        200,
                        api.get("/v1/conversations/" + conv + "/items/" + first).status());
                assertEquals(
                        200,
                        api.delete("/v1/conversations/" + conv + "/items/" + first)
                                .status());
                assertEquals(
                        404,
                        api.get("/v1/conversations/" + conv + "/items/" + first).status());
                Reply added = api.post(
                        "/v1/conversations/" + conv + "/items", "{\"items\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
                assertEquals(1, added.body().path("data").size(), added.body().toString());
                assertEquals(
                        5,
                        api.get("/v1/conversations/" + conv + "/items?limit=100")
                                .body()
                                .path("data")
                                .size());
                Reply meta = api.post("/v1/conversations/" + conv, "{\"metadata\":{\"topic\":\"u\"}}");
                assertEquals("u", meta.body().path("metadata").path("topic").asText());
                Reply deleted = api.delete("/v1/conversations/" + conv);
                assertTrue(
                        deleted.body().path("deleted").asBoolean(),
                        deleted.body().toString());
                assertEquals(404, api.get("/v1/conversations/" + conv).status());
            }
        }
    }
}
