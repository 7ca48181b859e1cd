package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ResponsesClient.Reply;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResponsesHttpTest {
    @TempDir
    Path dir;

    ScriptedUpstream upstream;
    TestServer server;
    ResponsesClient api;

    @BeforeEach
    void start() throws Exception {
        upstream = ScriptedUpstream.start();
        server = TestServer.start(dir, b -> b.upstream(URI.create(upstream.url())));
        api = new ResponsesClient(server);
    }

    @AfterEach
    void stop() {
        server.close();
        upstream.close();
    }

    @Test
    void continuationSendsTheWholeChainUpstreamAsAPureAppend() throws Exception {
        Reply r1 = api.post("/v1/responses", "{\"model\":\"m\",\"instructions\":\"Be brief.\",\"input\":\"Hello\"}");
        assertEquals(200, r1.status(), r1.body().toString());
        assertTrue(r1.body().path("id").asText().startsWith("resp_"));
        assertEquals("completed", r1.body().path("status").asText());
        assertEquals("echo: Hello", ResponsesClient.outputText(r1.body()));

        String id = r1.body().path("id").asText();
        Reply r2 = api.post(
                "/v1/responses",
                "{\"model\":\"m\",\"instructions\":\"Be brief.\",\"previous_response_id\":\"" + id
                        + "\",\"input\":\"Again\"}");
        assertEquals(200, r2.status(), r2.body().toString());
        assertEquals("echo: Again", ResponsesClient.outputText(r2.body()));
        assertEquals(id, r2.body().path("previous_response_id").asText());

        List<JsonNode> sent = upstream.requests();
        JsonNode m2 = sent.get(1).path("messages");
        assertEquals(4, m2.size(), "system, user, assistant, user: " + m2);
        assertEquals("Hello", m2.get(1).path("content").asText());
        assertEquals("echo: Hello", m2.get(2).path("content").asText());
        assertEquals("Again", m2.get(3).path("content").asText());
        String first = sent.get(0).path("messages").toString();
        assertTrue(
                m2.toString().startsWith(first.substring(0, first.length() - 1)),
                "turn 2's messages must start with turn 1's, byte for byte (prefix caches)");
    }

    @Test
    void functionToolRoundTrip() throws Exception {
        upstream.then(new ScriptedUpstream.ToolCall("call_7", "get_weather", List.of("{\"city\":", "\"Paris\"}")))
                .then(ScriptedUpstream.text("It is 21C."));
        String tools = "[{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"city\":{\"type\":\"string\"}}}}]";
        Reply r1 = api.post("/v1/responses", "{\"model\":\"m\",\"tools\":" + tools + ",\"input\":\"Weather?\"}");
        JsonNode call = r1.body().path("output").get(0);
        assertEquals("function_call", call.path("type").asText(), r1.body().toString());
        assertEquals("call_7", call.path("call_id").asText());
        assertEquals("{\"city\":\"Paris\"}", call.path("arguments").asText());
        assertEquals(
                "get_weather",
                upstream.requests()
                        .get(0)
                        .path("tools")
                        .get(0)
                        .path("function")
                        .path("name")
                        .asText());

        Reply r2 = api.post(
                "/v1/responses",
                "{\"model\":\"m\",\"tools\":" + tools + ",\"previous_response_id\":\""
                        + r1.body().path("id").asText()
                        + "\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"call_7\",\"output\":\"21C\"}]}");
        assertEquals(
                "It is 21C.", ResponsesClient.outputText(r2.body()), r2.body().toString());
        JsonNode m = upstream.requests().get(1).path("messages");
        assertEquals("call_7", m.get(1).path("tool_calls").get(0).path("id").asText(), m.toString());
        assertEquals("tool", m.get(2).path("role").asText());
        assertEquals("call_7", m.get(2).path("tool_call_id").asText());
    }

    @Test
    void streamingEventsAreNumberedAndOrderedAsTheSdksExpect() throws Exception {
        List<JsonNode> events = api.stream("{\"model\":\"m\",\"input\":\"Hi\",\"stream\":true}");
        for (int i = 0; i < events.size(); i++) {
            assertEquals(i, events.get(i).path("sequence_number").asInt(), "contiguous sequence numbers from 0");
        }
        List<String> types = events.stream().map(e -> e.path("type").asText()).toList();
        assertEquals(Runs.TWO_FRAGMENT_TEXT, types);
        JsonNode done = events.get(events.size() - 1).path("response");
        assertEquals("echo: Hi", ResponsesClient.outputText(done));
        assertTrue(done.path("usage").path("input_tokens_details").has("cached_tokens"));
    }

    @Test
    void cachedTokensAreWhatTheUpstreamReported() throws Exception {
        upstream.then(new ScriptedUpstream.Text(0, List.of("ok"), 1000, 640));
        Reply r = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"Hi\"}");
        JsonNode usage = r.body().path("usage");
        assertEquals(1000, usage.path("input_tokens").asInt());
        assertEquals(
                640, usage.path("input_tokens_details").path("cached_tokens").asInt());
    }

    @Test
    void storedResponsesCanBeReadListedAndDeleted() throws Exception {
        Reply r = api.post(
                "/v1/responses",
                "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"A\"},"
                        + "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"B\"}]}]}");
        String id = r.body().path("id").asText();
        Reply got = api.get("/v1/responses/" + id);
        assertEquals(200, got.status());
        assertEquals(r.body().path("output"), got.body().path("output"));
        Reply items = api.get("/v1/responses/" + id + "/input_items?order=asc");
        assertEquals(2, items.body().path("data").size(), items.body().toString());
        assertEquals(
                "B",
                items.body()
                        .path("data")
                        .get(1)
                        .path("content")
                        .get(0)
                        .path("text")
                        .asText());
        assertTrue(items.body().path("data").get(0).path("id").asText().startsWith("msg_"));
        Reply deleted = api.delete("/v1/responses/" + id);
        assertTrue(deleted.body().path("deleted").asBoolean(), deleted.body().toString());
        assertEquals(404, api.get("/v1/responses/" + id).status());
        assertEquals(404, api.delete("/v1/responses/" + id).status());
    }

    @Test
    void badInputGetsA4xxInOpenAisEnvelope() throws Exception {
        assertError(
                api.post("/v1/responses", "{\"model\":\"m\",\"previous_response_id\":\"resp_nope\",\"input\":\"x\"}"),
                400,
                "previous_response_id",
                "previous_response_not_found");
        assertError(api.post("/v1/responses", "{\"model\":\"m\",\"input\":42}"), 400, "input", null);
        assertError(
                api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"x\",\"store\":\"yes\"}"), 400, "store", null);
        assertError(api.post("/v1/responses", "{\"input\":\"x\"}"), 400, "model", null);
        assertError(
                api.post("/v1/responses", "{\"model\":\"m\",\"input\":[{\"type\":\"telepathy\"}]}"),
                400,
                "input[0].type",
                null);
        assertError(
                api.post(
                        "/v1/responses",
                        "{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\","
                                + "\"call_id\":\"call_x\",\"output\":\"1\"}]}"),
                400,
                "input",
                null);
        assertError(
                api.post("/v1/responses", "{\"model\":\"m\",\"tools\":[{\"type\":\"web_search\"}],\"input\":\"x\"}"),
                400,
                "tools[0].type",
                null);
        assertError(api.post("/v1/responses", "not json"), 400, null, null);
        assertError(api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"x\"} trailing"), 400, null, null);
        Reply deep = api.post("/v1/responses", "[".repeat(1500) + "]".repeat(1500));
        assertError(deep, 400, null, null);
        String message = deep.body().path("error").path("message").asText();
        assertTrue(
                message.contains("nested deeper than") && !message.contains("StreamReadConstraints"),
                "the parser's limit in plain words, without its internals: " + message);
        assertError(api.get("/v1/responses/resp_unknown"), 404, "response_id", "not_found");
        assertError(api.get("/v1/responses/x/../../stream"), 404, null, null);
        Reply noUpgrade = api.get("/v1/responses");
        assertEquals(426, noUpgrade.status());
        Reply r = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"x\",\"store\":false}");
        assertEquals(200, r.status());
        assertError(
                api.post(
                        "/v1/responses",
                        "{\"model\":\"m\",\"previous_response_id\":\""
                                + r.body().path("id").asText() + "\",\"input\":\"x\"}"),
                400,
                "previous_response_id",
                "previous_response_not_found");
        assertEquals(
                404,
                api.get("/v1/responses/" + r.body().path("id").asText()).status(),
                "store:false is not retrievable");
    }

    static void assertError(Reply r, int status, String param, String code) {
        assertEquals(status, r.status(), String.valueOf(r.body()));
        JsonNode error = r.body().path("error");
        assertFalse(error.path("message").asText().isEmpty(), "an error says what was wrong: " + r.body());
        assertTrue(error.has("type") && error.has("param") && error.has("code"), "OpenAI's envelope: " + r.body());
        if (param != null) {
            assertEquals(param, error.path("param").asText(), r.body().toString());
        }
        if (code != null) {
            assertEquals(code, error.path("code").asText(), r.body().toString());
        }
    }
}
