package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ResponsesClient.Reply;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Background responses, resume by sequence number, cancel, disconnects and restarts. */
class ResponseLifecycleTest {
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

    private static List<String> chunks(int n) {
        List<String> c = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            c.add("t" + i + " ");
        }
        return c;
    }

    private JsonNode awaitStatus(String id, String status) throws Exception {
        for (int i = 0; i < 200; i++) {
            Reply r = api.get("/v1/responses/" + id);
            if (r.body().path("status").asText().equals(status)) {
                return r.body();
            }
            Thread.sleep(25);
        }
        throw new AssertionError("response " + id + " never reached " + status + ": "
                + api.get("/v1/responses/" + id).body());
    }

    @Test
    void backgroundResponseResumesAfterAnySequenceNumberWithoutDuplicates() throws Exception {
        upstream.then(new ScriptedUpstream.Text(20, chunks(8), -1, 0));
        Reply queued = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"go\",\"background\":true}");
        assertEquals(200, queued.status(), queued.body().toString());
        assertTrue(List.of("queued", "in_progress")
                .contains(queued.body().path("status").asText()));
        String id = queued.body().path("id").asText();

        List<JsonNode> all = ResponsesClient.events(
                server.get("/v1/responses/" + id + "?stream=true").body());
        assertEquals("response.queued", all.get(0).path("type").asText());
        assertEquals("response.completed", all.get(all.size() - 1).path("type").asText());
        for (int after : new int[] {0, 3, all.size() - 2}) {
            List<JsonNode> rest =
                    ResponsesClient.events(server.get("/v1/responses/" + id + "?stream=true&starting_after=" + after)
                            .body());
            assertEquals(all.subList(after + 1, all.size()), rest, "resume after " + after + " = exactly the suffix");
        }
        Reply past = api.get("/v1/responses/" + id + "?stream=true&starting_after=" + all.size());
        assertEquals(
                400,
                past.status(),
                "a resume past the last event would wait for an end that never comes: " + past.body());
        assertEquals("starting_after", past.body().path("error").path("param").asText());
        assertEquals("t0 t1 t2 t3 t4 t5 t6 t7 ", ResponsesClient.outputText(awaitStatus(id, "completed")));
    }

    @Test
    void theResponseIsAlsoADurableStreamReadableByOffset() throws Exception {
        Reply r = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"Hi\"}");
        String id = r.body().path("id").asText();
        HttpResponse<String> raw = server.get("/v1/stream/responses/" + id + "?offset=-1");
        assertEquals(200, raw.statusCode());
        JsonNode events = ResponsesClient.JSON.readTree(raw.body());
        assertEquals("response.created", events.get(0).path("type").asText());
        assertEquals(
                "response.completed", events.get(events.size() - 1).path("type").asText());
        assertEquals("true", raw.headers().firstValue("Stream-Closed").orElse(""), "closed with the terminal event");
    }

    @Test
    void cancelStopsABackgroundResponseAndIsIdempotent() throws Exception {
        upstream.then(new ScriptedUpstream.Hang());
        Reply queued = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"go\",\"background\":true}");
        String id = queued.body().path("id").asText();
        awaitStatus(id, "in_progress");
        Reply cancelled = api.post("/v1/responses/" + id + "/cancel", "");
        assertEquals(200, cancelled.status(), cancelled.body().toString());
        assertEquals("cancelled", cancelled.body().path("status").asText());
        assertEquals(
                "cancelled",
                api.post("/v1/responses/" + id + "/cancel", "")
                        .body()
                        .path("status")
                        .asText());
        List<JsonNode> events = ResponsesClient.events(
                server.get("/v1/responses/" + id + "?stream=true").body());
        assertEquals(
                "response.cancelled", events.get(events.size() - 1).path("type").asText());
    }

    @Test
    void aDisconnectDoesNotCancel() throws Exception {
        upstream.then(new ScriptedUpstream.Text(50, chunks(10), -1, 0));
        HttpResponse<InputStream> live = server.client()
                .send(
                        server.request("/v1/responses")
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(
                                        "{\"model\":\"m\",\"input\":\"go\",\"stream\":true}"))
                                .build(),
                        HttpResponse.BodyHandlers.ofInputStream());
        InputStream in = live.body();
        String first = new String(in.readNBytes(64), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(first.startsWith("event: response.created"), first);
        String head = new String(in.readNBytes(2000), java.nio.charset.StandardCharsets.UTF_8);
        int at = head.indexOf("\"id\":\"resp_");
        String id = head.substring(at + 6, head.indexOf('"', at + 6));
        in.close(); // the client goes away mid-answer
        JsonNode done = awaitStatus(id, "completed");
        assertEquals(String.join("", chunks(10)), ResponsesClient.outputText(done), "generation went on to the end");
    }

    @Test
    void storedChainsSurviveARestart() throws Exception {
        Reply r1 = api.post("/v1/responses", "{\"model\":\"m\",\"input\":\"Hello\"}");
        Reply r2 = api.post(
                "/v1/responses",
                "{\"model\":\"m\",\"input\":\"More\",\"previous_response_id\":\""
                        + r1.body().path("id").asText() + "\"}");
        server.close();
        server = TestServer.start(dir, b -> b.upstream(URI.create(upstream.url())));
        api = new ResponsesClient(server);
        Reply r3 = api.post(
                "/v1/responses",
                "{\"model\":\"m\",\"input\":\"Last\",\"previous_response_id\":\""
                        + r2.body().path("id").asText() + "\"}");
        assertEquals(200, r3.status(), r3.body().toString());
        JsonNode messages = upstream.requests().get(2).path("messages");
        assertEquals(5, messages.size(), "the whole chain was reloaded from the store: " + messages);
        assertEquals("echo: More", messages.get(3).path("content").asText());
        assertEquals(
                r1.body(),
                api.get("/v1/responses/" + r1.body().path("id").asText()).body());
    }
}
