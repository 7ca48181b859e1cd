package dev.tether.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

/** Test helpers for the Responses API over HTTP: JSON calls and SSE parsing. */
public final class ResponsesClient {
    public static final ObjectMapper JSON = new ObjectMapper();

    private final TestServer server;

    public ResponsesClient(TestServer server) {
        this.server = server;
    }

    /** A status and a parsed body. */
    public record Reply(int status, JsonNode body) {}

    public Reply post(String path, String json) throws IOException, InterruptedException {
        return parse(server.post(path, "application/json", json));
    }

    public Reply get(String path) throws IOException, InterruptedException {
        return parse(server.get(path));
    }

    public Reply delete(String path) throws IOException, InterruptedException {
        return parse(server.send(server.request(path).DELETE().build()));
    }

    private static Reply parse(HttpResponse<String> r) throws IOException {
        return new Reply(r.statusCode(), r.body().isEmpty() ? null : JSON.readTree(r.body()));
    }

    /** POSTs a streaming request and returns every event, in order. */
    public List<JsonNode> stream(String json) throws IOException, InterruptedException {
        HttpResponse<String> r = server.send(server.request("/v1/responses")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json))
                .build());
        if (r.statusCode() != 200) {
            throw new AssertionError("streaming create answered " + r.statusCode() + ": " + r.body());
        }
        return events(r.body());
    }

    /** Parses an SSE body; checks every data line's type matches its event line. */
    public static List<JsonNode> events(String body) throws IOException {
        List<JsonNode> events = new ArrayList<>();
        for (String frame : body.split("\n\n")) {
            if (frame.isBlank()) {
                continue;
            }
            String type = null;
            String data = null;
            for (String line : frame.split("\n")) {
                if (line.startsWith("event: ")) {
                    type = line.substring(7);
                } else if (line.startsWith("data: ")) {
                    data = line.substring(6);
                }
            }
            JsonNode event = JSON.readTree(data);
            if (!event.path("type").asText().equals(type)) {
                throw new AssertionError("event line '" + type + "' does not match data type in " + data);
            }
            events.add(event);
        }
        return events;
    }

    /** The concatenated text of a response object's output messages. */
    public static String outputText(JsonNode response) {
        StringBuilder b = new StringBuilder();
        for (JsonNode item : response.path("output")) {
            for (JsonNode part : item.path("content")) {
                b.append(part.path("text").asText());
            }
        }
        return b.toString();
    }
}
