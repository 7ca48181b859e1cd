package dev.tether.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Responses half of {@code tether aot-train}: a scripted Chat Completions upstream in this JVM
 * and agent-shaped conversations through Tether in front of it — a tool call, its output, a text
 * answer — over stateless HTTP, {@code previous_response_id} and the WebSocket mode. Without it
 * the AOT cache held no profiles for the gateway path, and a fresh server ran its turns in the
 * interpreter and C1 for its first few thousand turns (docs/benchmarks.md).
 */
final class AotResponsesTraining implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOOLS =
            "[{\"type\":\"function\",\"name\":\"read_file\",\"description\":\"Reads a file\","
                    + "\"parameters\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},"
                    + "\"required\":[\"path\"],\"additionalProperties\":false}}]";

    private final HttpServer upstream;
    private final HttpClient http;
    private final AtomicLong requests;
    private final AtomicLong failed;

    AotResponsesTraining(HttpClient http, AtomicLong requests, AtomicLong failed) throws IOException {
        this.http = http;
        this.requests = requests;
        this.failed = failed;
        upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        upstream.createContext("/v1/chat/completions", AotResponsesTraining::answer);
        upstream.start();
    }

    /** The base URL to give Tether as {@code --upstream}. */
    URI url() {
        return URI.create("http://127.0.0.1:" + upstream.getAddress().getPort() + "/v1");
    }

    /** Streams a tool call when the last message is the user's, else a text answer, in small chunks. */
    private static void answer(HttpExchange exchange) throws IOException {
        JsonNode messages = JSON.readTree(exchange.getRequestBody()).path("messages");
        boolean call = messages.get(messages.size() - 1).path("role").asText().equals("user");
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
        exchange.sendResponseHeaders(200, 0);
        try (OutputStream out = exchange.getResponseBody()) {
            String id = "chatcmpl-train";
            if (call) {
                chunk(
                        out,
                        id,
                        "{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
                                + "\"function\":{\"name\":\"read_file\",\"arguments\":\"\"}}]}",
                        null);
                for (String piece : new String[] {"{\\\"pa", "th\\\":", "\\\"src/", "Main.", "java\\\"}"}) {
                    chunk(
                            out,
                            id,
                            "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"" + piece + "\"}}]}",
                            null);
                }
                chunk(out, id, "{}", "tool_calls");
            } else {
                chunk(out, id, "{\"role\":\"assistant\",\"content\":\"\"}", null);
                for (int i = 0; i < 40; i++) {
                    chunk(out, id, "{\"content\":\"word" + i + " \"}", null);
                }
                chunk(out, id, "{}", "stop");
            }
            out.write(("data: {\"id\":\"" + id + "\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
                            + "\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":40,\"total_tokens\":140}}\n\n"
                            + "data: [DONE]\n\n")
                    .getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void chunk(OutputStream out, String id, String delta, String finish) throws IOException {
        out.write(("data: {\"id\":\"" + id + "\",\"object\":\"chat.completion.chunk\",\"model\":\"train\","
                        + "\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":"
                        + (finish == null ? "null" : "\"" + finish + "\"") + "}]}\n\n")
                .getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Runs conversations against Tether at {@code base} until {@code untilNanos}, each kind at least once. */
    void drive(String base, long untilNanos) throws Exception {
        WebSocket socket = null;
        SocketTurns turns = new SocketTurns();
        try {
            socket = http.newWebSocketBuilder()
                    .buildAsync(URI.create(base.replace("http://", "ws://") + "/v1/responses"), turns)
                    .get(10, TimeUnit.SECONDS);
            for (long n = 0; n < 3 || System.nanoTime() < untilNanos; n++) { // each way at least once
                switch ((int) (n % 3)) {
                    case 0 -> stateless(base);
                    case 1 -> chained(base);
                    default -> overSocket(socket, turns);
                }
            }
        } finally {
            if (socket != null) {
                socket.sendClose(WebSocket.NORMAL_CLOSURE, "done");
            }
        }
    }

    private static ObjectNode request(JsonNode input, boolean store) throws IOException {
        ObjectNode r = JSON.createObjectNode();
        r.put("model", "train");
        r.set("tools", JSON.readTree(TOOLS));
        r.put("stream", true);
        r.put("store", store);
        r.set("input", input);
        return r;
    }

    private static ArrayNode userTurn() {
        ArrayNode input = JSON.createArrayNode();
        input.addObject().put("role", "user").put("content", "Read src/Main.java and tell me what it does.");
        return input;
    }

    private static ObjectNode toolOutput(JsonNode output) {
        String callId = "call_1";
        for (JsonNode item : output) {
            if (item.path("type").asText().equals("function_call")) {
                callId = item.path("call_id").asText();
            }
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("type", "function_call_output").put("call_id", callId).put("output", "class Main {}");
        return o;
    }

    /** Two turns, the second resending the whole history. */
    private void stateless(String base) throws Exception {
        ArrayNode input = userTurn();
        JsonNode first = post(base, request(input, false));
        if (first == null) {
            return;
        }
        input.addAll((ArrayNode) first.path("output"));
        input.add(toolOutput(first.path("output")));
        post(base, request(input, false));
    }

    /** Two turns, the second sending only the tool output after {@code previous_response_id}. */
    private void chained(String base) throws Exception {
        JsonNode first = post(base, request(userTurn(), true));
        if (first == null) {
            return;
        }
        ObjectNode next = request(JSON.createArrayNode().add(toolOutput(first.path("output"))), true);
        next.put("previous_response_id", first.path("id").asText());
        post(base, next);
    }

    /** POSTs a streamed response and returns its final object, or null (counted as failed). */
    private JsonNode post(String base, ObjectNode body) throws Exception {
        HttpResponse<java.util.stream.Stream<String>> r = http.send(
                HttpRequest.newBuilder(URI.create(base + "/v1/responses"))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)))
                        .build(),
                HttpResponse.BodyHandlers.ofLines());
        requests.incrementAndGet();
        JsonNode done = null;
        try (var lines = r.body()) {
            for (String line : (Iterable<String>) lines::iterator) {
                if (line.startsWith("data:") && line.contains("\"response.completed\"")) {
                    done = JSON.readTree(line.substring(5)).path("response");
                }
            }
        }
        if (r.statusCode() != 200 || done == null) {
            failed.incrementAndGet();
        }
        return done;
    }

    private void overSocket(WebSocket socket, SocketTurns turns) throws Exception {
        ObjectNode create = request(userTurn(), false);
        create.put("type", "response.create");
        JsonNode first = turns.send(socket, create);
        requests.incrementAndGet();
        if (first == null) {
            failed.incrementAndGet();
            return;
        }
        ObjectNode next = request(JSON.createArrayNode().add(toolOutput(first.path("output"))), false);
        next.put("type", "response.create");
        next.put("previous_response_id", first.path("id").asText());
        requests.incrementAndGet();
        if (turns.send(socket, next) == null) {
            failed.incrementAndGet();
        }
    }

    /** One turn at a time over the socket: sends a frame, waits for the terminal event. */
    private static final class SocketTurns implements WebSocket.Listener {
        private final StringBuilder text = new StringBuilder();
        private volatile CompletableFuture<JsonNode> turn = new CompletableFuture<>();

        JsonNode send(WebSocket socket, ObjectNode frame) throws Exception {
            turn = new CompletableFuture<>();
            socket.sendText(JSON.writeValueAsString(frame), true).get(10, TimeUnit.SECONDS);
            return turn.get(10, TimeUnit.SECONDS);
        }

        @Override
        public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                String message = text.toString();
                text.setLength(0);
                try {
                    JsonNode event = JSON.readTree(message);
                    String type = event.path("type").asText();
                    if (type.equals("response.completed")) {
                        turn.complete(event.path("response"));
                    } else if (type.equals("error")
                            || type.equals("response.failed")
                            || type.equals("response.incomplete")) {
                        turn.complete(null);
                    }
                } catch (IOException e) {
                    turn.complete(null);
                }
            }
            socket.request(1);
            return null;
        }

        @Override
        public void onError(WebSocket socket, Throwable error) {
            turn.complete(null);
        }
    }

    @Override
    public void close() {
        upstream.stop(0);
    }
}
