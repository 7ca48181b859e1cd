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

/** {@code text.format}: mapped to an upstream's {@code response_format}, echoed, checked; held to a grammar on the embedded engine. */
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
    void theDemoModelsAnswerUnderAJsonSchemaParsesAndFollowsTheSchema() throws Exception {
        String schema = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
                + "\"unit\":{\"enum\":[\"c\",\"f\"]},\"days\":{\"type\":\"integer\"}},"
                + "\"required\":[\"city\",\"unit\",\"days\"],\"additionalProperties\":false}";
        try (TestServer server = TestServer.start(dir, b -> b.demoModel(true))) {
            ResponsesClient api = new ResponsesClient(server);
            for (int i = 0; i < 2; i++) {
                Reply r = api.post(
                        "/v1/responses",
                        "{\"model\":\"demo\",\"input\":\"Weather " + i + "?\",\"text\":{\"format\":{\"type\":"
                                + "\"json_schema\",\"name\":\"w\",\"strict\":true,\"schema\":" + schema + "}}}");
                assertEquals(200, r.status(), r.body().toString());
                assertEquals(
                        "completed", r.body().path("status").asText(), r.body().toString());
                String text = r.body()
                        .path("output")
                        .path(0)
                        .path("content")
                        .path(0)
                        .path("text")
                        .asText();
                JsonNode v = Json.MAPPER.readTree(text);
                assertEquals(3, v.size(), "exactly the three properties: " + text);
                assertTrue(v.path("city").isTextual(), text);
                assertTrue(v.path("unit").asText().matches("[cf]"), text);
                assertTrue(v.path("days").isIntegralNumber(), text);
            }
        }
    }

    @Test
    void theDemoModelCallsARequiredToolWithArgumentsOfItsSchema() throws Exception {
        String tool = "{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"city\":{\"type\":\"string\"},\"unit\":{\"enum\":[\"c\",\"f\"]}},"
                + "\"required\":[\"city\",\"unit\"]}}";
        try (TestServer server = TestServer.start(dir, b -> b.demoModel(true))) {
            Reply r = new ResponsesClient(server)
                    .post(
                            "/v1/responses",
                            "{\"model\":\"demo\",\"input\":\"Weather?\",\"tools\":[" + tool
                                    + "],\"tool_choice\":\"required\",\"parallel_tool_calls\":false}");
            assertEquals(200, r.status(), r.body().toString());
            JsonNode output = r.body().path("output");
            assertEquals(1, output.size(), "one call and nothing else: " + output);
            JsonNode call = output.get(0);
            assertEquals("function_call", call.path("type").asText(), output.toString());
            assertEquals("get_weather", call.path("name").asText());
            JsonNode args = Json.MAPPER.readTree(call.path("arguments").asText());
            assertTrue(args.path("city").isTextual(), args.toString());
            assertTrue(args.path("unit").asText().matches("[cf]"), args.toString());

            Reply unknown = new ResponsesClient(server)
                    .post(
                            "/v1/responses",
                            "{\"model\":\"demo\",\"input\":\"x\",\"tools\":[" + tool
                                    + "],\"tool_choice\":{\"type\":\"function\",\"name\":\"nope\"}}");
            assertEquals(400, unknown.status(), unknown.body().toString());
            assertEquals(
                    "tool_choice",
                    unknown.body().path("error").path("param").asText(),
                    unknown.body().toString());
        }
    }
}
