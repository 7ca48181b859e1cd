package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code GET /v1/models}: the upstream's list proxied, the configured model, errors in OpenAI's envelope. */
class ModelsHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void theUpstreamsModelsAreListedAndLookedUpOneByOne() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(dir, c -> c.upstream(URI.create(up.url())))) {
            HttpResponse<String> list = server.get("/v1/models");
            assertEquals(200, list.statusCode(), list.body());
            JsonNode body = JSON.readTree(list.body());
            assertEquals("list", body.path("object").asText());
            assertEquals(1, body.path("data").size(), list.body());
            JsonNode m = body.path("data").get(0);
            assertEquals("scripted-1", m.path("id").asText());
            assertEquals("model", m.path("object").asText());
            assertEquals("scripted", m.path("owned_by").asText());
            assertEquals(1700000000, m.path("created").asLong());

            HttpResponse<String> one = server.get("/v1/models/scripted-1");
            assertEquals(200, one.statusCode(), one.body());
            assertEquals("scripted-1", JSON.readTree(one.body()).path("id").asText());

            HttpResponse<String> missing = server.get("/v1/models/gpt-nope");
            assertEquals(404, missing.statusCode(), missing.body());
            assertEquals(
                    "model_not_found",
                    JSON.readTree(missing.body()).path("error").path("code").asText(),
                    "OpenAI's error envelope: " + missing.body());

            HttpResponse<String> post = server.send(server.request("/v1/models")
                    .POST(HttpRequest.BodyPublishers.ofString("{}"))
                    .build());
            assertEquals(405, post.statusCode(), post.body());
        }
    }

    @Test
    void withUpstreamModelTheListIsThatModel() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(
                        dir, c -> c.upstream(URI.create(up.url())).upstreamModel("pinned-model"))) {
            JsonNode body = JSON.readTree(server.get("/v1/models").body());
            assertEquals("pinned-model", body.path("data").get(0).path("id").asText(), body.toString());
        }
    }

    @Test
    void anUpstreamThatCannotListIsA502NamingIt() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(dir, c -> c.upstream(URI.create(up.url() + "/wrong")))) {
            HttpResponse<String> list = server.get("/v1/models");
            assertEquals(502, list.statusCode(), list.body());
            String message =
                    JSON.readTree(list.body()).path("error").path("message").asText();
            assertTrue(message.contains(up.url() + "/wrong") && message.contains("404"), message);
        }
    }

    @Test
    void anUpstreamCannotCountInputTokensAndSaysSo() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(dir, c -> c.upstream(URI.create(up.url())))) {
            HttpResponse<String> r =
                    server.post("/v1/responses/input_tokens", "application/json", "{\"model\":\"m\",\"input\":\"hi\"}");
            assertEquals(503, r.statusCode(), r.body());
            assertEquals(
                    "not_supported",
                    JSON.readTree(r.body()).path("error").path("code").asText(),
                    r.body());
            HttpResponse<String> get = server.get("/v1/responses/input_tokens");
            assertEquals(405, get.statusCode(), get.body());
        }
    }
}
