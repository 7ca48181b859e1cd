package dev.tether.responses;

import static dev.tether.responses.ResponsesHttpTest.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.store.log.LogStreamStore;
import dev.tether.stream.AppendRequest;
import dev.tether.stream.AppendResult;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ResponsesClient.Reply;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConversationsTest {
    @TempDir
    Path dir;

    /**
     * Finding 3: a conversation whose stream holds a malformed operation made every later request
     * for it hang (the failed load was cached as a future that never completed). Now the load fails,
     * each request answers, and nothing failed is cached: the raw API can no longer write such a
     * record, so the test plants it through the engine while the server is down.
     */
    @Test
    void aCorruptConversationFailsEveryRequestPromptlyInsteadOfHanging() throws Exception {
        String conv;
        try (TestServer server = TestServer.start(dir, b -> b)) {
            ResponsesClient api = new ResponsesClient(server);
            conv = api.post("/v1/conversations", "{}").body().path("id").asText();
            Reply forged =
                    api.post("/v1/stream/conversations/" + conv, "{\"op\":\"add\",\"items\":[{\"not\":\"an item\"}]}");
            assertEquals(403, forged.status(), "the raw API refuses the write the probe used");
        }
        try (StreamEngine engine =
                new StreamEngine(LogStreamStore.open(dir), InstantSource.system(), EngineSettings.defaults())) {
            AppendResult r = engine.append(new AppendRequest(
                            "conversations/" + conv,
                            "application/json",
                            List.of("{\"op\":\"add\",\"items\":[{\"not\":\"an item\"}]}"
                                    .getBytes(StandardCharsets.UTF_8)),
                            false,
                            null,
                            null))
                    .toCompletableFuture()
                    .get(10, TimeUnit.SECONDS);
            assertTrue(r instanceof AppendResult.Appended, r.toString());
        }
        try (TestServer server = TestServer.start(dir, b -> b)) {
            ResponsesClient api = new ResponsesClient(server);
            for (int attempt = 0; attempt < 3; attempt++) {
                Reply items = api.get("/v1/conversations/" + conv + "/items"); // the client times out after 10 s
                assertEquals(500, items.status(), "attempt " + attempt + ": " + items.body());
                String message = items.body().path("error").path("message").asText();
                assertTrue(message.contains("request id"), message);
                assertTrue(!message.contains("Exception"), "no exception text in a body: " + message);
            }
        }
    }

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
