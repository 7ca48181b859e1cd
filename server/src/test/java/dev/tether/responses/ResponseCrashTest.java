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

    @Test
    void aResponseInterruptedByACrashIsEndedAsFailedAfterRestart() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start()) {
            up.then(new ScriptedUpstream.Text(10, List.of("partial ", "answer "), -1, 0))
                    .then(new ScriptedUpstream.Hang());
            String id;
            String first;
            try (ServerProcess server = ServerProcess.start(dir, "--upstream", up.url())) {
                first = call(server, "POST", "/v1/responses", "{\"model\":\"m\",\"input\":\"a\"}")
                        .path("id")
                        .asText();
                id = call(server, "POST", "/v1/responses", "{\"model\":\"m\",\"input\":\"b\",\"background\":true}")
                        .path("id")
                        .asText();
                for (int i = 0;
                        i < 100
                                && !call(server, "GET", "/v1/responses/" + id, null)
                                        .path("status")
                                        .asText()
                                        .equals("in_progress");
                        i++) {
                    Thread.sleep(50);
                }
                server.kill();
            }
            try (ServerProcess server = ServerProcess.start(dir, "--upstream", up.url())) {
                JsonNode r = call(server, "GET", "/v1/responses/" + id, null);
                assertEquals("failed", r.path("status").asText(), r.toString());
                assertEquals("server_error", r.path("error").path("code").asText());
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
