package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ResponsesClient.Reply;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestModels;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code text.format}: mapped to an upstream's {@code response_format}, echoed, checked; refused where it cannot hold. */
class TextFormatTest {
    private static final String SCHEMA =
            "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}";

    @TempDir
    Path dir;

    @Test
    void aJsonSchemaFormatReachesTheUpstreamAsResponseFormatAndIsEchoed() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(dir, c -> c.upstream(URI.create(up.url())))) {
            ResponsesClient api = new ResponsesClient(server);
            Reply r = api.post(
                    "/v1/responses",
                    "{\"model\":\"m\",\"input\":\"where?\",\"text\":{\"format\":{\"type\":\"json_schema\","
                            + "\"name\":\"place\",\"strict\":true,\"schema\":" + SCHEMA + "}}}");
            assertEquals(200, r.status(), r.body().toString());
            JsonNode sent = up.requests().get(up.requests().size() - 1).path("response_format");
            assertEquals("json_schema", sent.path("type").asText(), sent.toString());
            assertEquals("place", sent.path("json_schema").path("name").asText(), sent.toString());
            assertEquals(true, sent.path("json_schema").path("strict").asBoolean(), sent.toString());
            assertEquals(
                    "city",
                    sent.path("json_schema")
                            .path("schema")
                            .path("required")
                            .get(0)
                            .asText());
            JsonNode echoed = r.body().path("text").path("format");
            assertEquals("json_schema", echoed.path("type").asText(), r.body().toString());
            assertEquals("place", echoed.path("name").asText(), r.body().toString());

            Reply json = api.post(
                    "/v1/responses",
                    "{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_object\"}}}");
            assertEquals(200, json.status(), json.body().toString());
            assertEquals(
                    "json_object",
                    up.requests()
                            .get(up.requests().size() - 1)
                            .path("response_format")
                            .path("type")
                            .asText());

            Reply plain = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"x\"}");
            assertEquals(false, up.requests().get(up.requests().size() - 1).has("response_format"));
            assertEquals(
                    "text",
                    plain.body().path("text").path("format").path("type").asText());
        }
    }

    @Test
    void aMalformedFormatIsA400NamingTheField() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(dir, c -> c.upstream(URI.create(up.url())))) {
            ResponsesClient api = new ResponsesClient(server);
            Reply noSchema = api.post(
                    "/v1/responses",
                    "{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"n\"}}}");
            assertEquals(400, noSchema.status(), noSchema.body().toString());
            assertEquals(
                    "text.format.schema",
                    noSchema.body().path("error").path("param").asText());
            Reply badType = api.post(
                    "/v1/responses", "{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"yaml\"}}}");
            assertEquals(400, badType.status(), badType.body().toString());
            assertEquals(
                    "text.format.type",
                    badType.body().path("error").path("param").asText());
        }
    }

    @Test
    void theEmbeddedEngineRefusesAJsonFormatItCannotGuaranteeWithA400() throws Exception {
        try (TestServer server = TestServer.start(dir, b -> b.model(TestModels.tiny()))) {
            Reply r = new ResponsesClient(server)
                    .post(
                            "/v1/responses",
                            "{\"model\":\"tiny\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\","
                                    + "\"name\":\"place\",\"schema\":" + SCHEMA + "}}}");
            assertEquals(400, r.status(), r.body().toString());
            assertEquals(
                    "text.format.type",
                    r.body().path("error").path("param").asText(),
                    r.body().toString());
        }
    }
}
