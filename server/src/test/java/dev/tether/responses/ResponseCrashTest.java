package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.ResponsesClient;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.ServerProcess;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A response the process dies in the middle of ends as failed instead of "in progress" forever. */
class ResponseCrashTest {
    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newHttpClient();

    private JsonNode call(ServerProcess server, String method, String path, String body) throws Exception {
        HttpRequest.Builder b =
                HttpRequest.newBuilder(server.base().resolve(path)).timeout(Duration.ofSeconds(10));
        b.method(
                method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r =
                http.send(b.header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        return ResponsesClient.JSON.readTree(r.body());
    }

    private String durableEvents(ServerProcess server, String id) throws Exception {
        return http.send(
                        HttpRequest.newBuilder(server.base().resolve("/v1/stream/responses/" + id + "?offset=-1"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
    }

    @Test
    void aResponseInterruptedByACrashIsEndedAsFailedAfterRestart() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start()) {
            up.then(new ScriptedUpstream.Text(10, List.of("partial ", "answer "), -1, 0))
                    .then(new ScriptedUpstream.HangAfter(List.of("seen ", "before ", "the crash")));
            String id;
            String first;
            try (ServerProcess server = ServerProcess.start(dir, "--upstream", up.url())) {
                first = call(server, "POST", "/v1/responses", "{\"model\":\"m\",\"input\":\"a\"}")
                        .path("id")
                        .asText();
                id = call(server, "POST", "/v1/responses", "{\"model\":\"m\",\"input\":\"b\",\"background\":true}")
                        .path("id")
                        .asText();
                for (int i = 0; i < 200 && !durableEvents(server, id).contains("the crash"); i++) {
                    Thread.sleep(50); // until the deltas are stored (the raw stream shows only durable events)
                }
                server.kill();
            }
            try (ServerProcess server = ServerProcess.start(dir, "--upstream", up.url())) {
                JsonNode r = call(server, "GET", "/v1/responses/" + id, null);
                assertEquals("failed", r.path("status").asText(), r.toString());
                assertEquals("server_error", r.path("error").path("code").asText());
                assertEquals(
                        "seen before the crash",
                        ResponsesClient.outputText(r),
                        "finding 21: the failed response keeps the output its clients saw");
                assertEquals(
                        "incomplete", r.path("output").path(0).path("status").asText());
                JsonNode continued = call(
                        server,
                        "POST",
                        "/v1/responses",
                        "{\"model\":\"m\",\"input\":\"go on\",\"previous_response_id\":\"" + id + "\"}");
                assertEquals(
                        "previous_response_id",
                        continued.path("error").path("param").asText(),
                        "a failed response cannot be continued: " + continued);
                assertTrue(continued.path("error").path("message").asText().contains("failed"), continued.toString());
                HttpResponse<String> events = http.send(
                        HttpRequest.newBuilder(server.base().resolve("/v1/responses/" + id + "?stream=true"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                List<JsonNode> all = ResponsesClient.events(events.body());
                assertEquals("response.failed", all.getLast().path("type").asText(), "the stream has an end");
                for (int i = 0; i < all.size(); i++) {
                    assertEquals(i, all.get(i).path("sequence_number").asInt());
                }
                JsonNode done = call(server, "GET", "/v1/responses/" + first, null);
                assertEquals(
                        "partial answer ", ResponsesClient.outputText(done), "a finished response survives the crash");
                assertTrue(done.path("status").asText().equals("completed"));
            }
        }
    }
}
