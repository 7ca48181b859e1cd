package dev.tether.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.AuthFixture;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Responses and conversations belong to the principal that created them: another principal with
 * the same capabilities gets 404 (never 403: ids must not be probe-able) on every route, on
 * continuation, and on the raw stream API.
 */
class OwnershipTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ALL = "{\"*\":[\"*\"]}";

    @TempDir
    Path dir;

    private TestServer server;

    private HttpResponse<String> call(String method, String path, String token, String body) throws Exception {
        return server.send(server.request(path)
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .method(method, body == null ? BodyPublishers.noBody() : BodyPublishers.ofString(body))
                .build());
    }

    @Test
    void anotherPrincipalSeesNothingOfMyResponsesAndConversations() throws Exception {
        AuthFixture auth = AuthFixture.create(dir.resolve("auth"));
        String alice = auth.token("HS256", "alice", ALL);
        String bob = auth.token("ES256", "bob", ALL);
        try (ScriptedUpstream up = ScriptedUpstream.start()) {
            server = TestServer.start(
                    dir.resolve("data"), c -> c.authConfig(auth.config()).upstream(URI.create(up.url())));
            try {
                HttpResponse<String> created =
                        call("POST", "/v1/responses", alice, "{\"model\":\"m\",\"input\":\"hi\"}");
                assertEquals(200, created.statusCode(), created.body());
                String id = JSON.readTree(created.body()).path("id").asText();
                assertEquals(
                        200, call("GET", "/v1/responses/" + id, alice, null).statusCode(), "the owner reads it");

                for (String[] route : new String[][] {
                    {"GET", "/v1/responses/" + id},
                    {"GET", "/v1/responses/" + id + "/input_items"},
                    {"GET", "/v1/responses/" + id + "?stream=true"},
                    {"POST", "/v1/responses/" + id + "/cancel"},
                    {"DELETE", "/v1/responses/" + id},
                    {"GET", "/v1/stream/responses/" + id + "?offset=-1"},
                    {"GET", "/v1/stream/responses/" + id + "/input?offset=-1"},
                }) {
                    HttpResponse<String> r = call(route[0], route[1], bob, null);
                    assertEquals(404, r.statusCode(), route[0] + " " + route[1] + " by another principal: " + r.body());
                }
                HttpResponse<String> continued = call(
                        "POST",
                        "/v1/responses",
                        bob,
                        "{\"model\":\"m\",\"input\":\"steal\",\"previous_response_id\":\"" + id + "\"}");
                assertEquals(400, continued.statusCode(), continued.body());
                assertEquals(
                        "previous_response_not_found",
                        JSON.readTree(continued.body())
                                .path("error")
                                .path("code")
                                .asText());
                assertEquals(
                        200,
                        call("GET", "/v1/stream/responses/" + id + "?offset=-1", alice, null)
                                .statusCode(),
                        "the owner reads the raw stream");

                HttpResponse<String> conv = call("POST", "/v1/conversations", alice, "{\"items\":[]}");
                String convId = JSON.readTree(conv.body()).path("id").asText();
                for (String[] route : new String[][] {
                    {"GET", "/v1/conversations/" + convId},
                    {"GET", "/v1/conversations/" + convId + "/items"},
                    {"POST", "/v1/conversations/" + convId + "/items"},
                    {"DELETE", "/v1/conversations/" + convId},
                    {"GET", "/v1/stream/conversations/" + convId + "?offset=-1"},
                }) {
                    HttpResponse<String> r =
                            call(route[0], route[1], bob, route[0].equals("POST") ? "{\"items\":[]}" : null);
                    assertEquals(404, r.statusCode(), route[0] + " " + route[1] + " by another principal: " + r.body());
                }
                HttpResponse<String> turn = call(
                        "POST",
                        "/v1/responses",
                        bob,
                        "{\"model\":\"m\",\"input\":\"x\",\"conversation\":\"" + convId + "\"}");
                assertEquals(404, turn.statusCode(), turn.body());
                JsonNode items = JSON.readTree(call("GET", "/v1/conversations/" + convId + "/items", alice, null)
                        .body());
                assertTrue(items.path("data").isArray(), "the owner still reads it: " + items);
            } finally {
                server.close();
            }
        }
    }
}
