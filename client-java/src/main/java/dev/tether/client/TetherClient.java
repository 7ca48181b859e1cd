package dev.tether.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The entry point of the Java SDK: a Tether server's base URL and how to authenticate. Calls are
 * synchronous (agent workers run them on their own threads); failures are {@link
 * TetherException}s carrying the server's status and code.
 *
 * <p>Thread-safe.
 */
public final class TetherClient {
    static final ObjectMapper JSON = new ObjectMapper();

    private final URI base;
    private final Supplier<String> token;
    private final HttpClient http;

    private TetherClient(URI base, Supplier<String> token) {
        this.base = base;
        this.token = token;
        this.http =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** A client of the server at {@code base} (e.g. {@code http://127.0.0.1:4437}) without credentials (open mode). */
    public static TetherClient of(URI base) {
        return new TetherClient(base, () -> null);
    }

    /**
     * A client that sends {@code Bearer <token>} on every request; the supplier is asked each time,
     * so it can refresh a token before it expires.
     */
    public static TetherClient of(URI base, Supplier<String> token) {
        return new TetherClient(base, Objects.requireNonNull(token, "token"));
    }

    URI base() {
        return base;
    }

    HttpClient http() {
        return http;
    }

    String token() {
        return token.get();
    }

    /** Creates a session ({@code body} as for {@code POST /v1/sessions}, or null) and returns its id. */
    public String createSession(JsonNode body) {
        return call("POST", "/v1/sessions", body == null ? JSON.createObjectNode() : body)
                .path("id")
                .asText();
    }

    /** The session's materialised state ({@code GET /v1/sessions/<id>}). */
    public JsonNode session(String id) {
        return call("GET", "/v1/sessions/" + id, null);
    }

    /** Posts a message as this client's principal; returns {@code {message, run}}. */
    public JsonNode sendMessage(String sessionId, String content) {
        ObjectNode body = JSON.createObjectNode().put("content", content);
        return call("POST", "/v1/sessions/" + sessionId + "/messages", body);
    }

    /**
     * Joins {@code sessionId} as an agent named {@code name} and starts answering: the handler hears
     * every user message (and, on start, those no run has answered yet).
     */
    public AgentSession joinAsAgent(String sessionId, String name, AgentSession.Handler handler) {
        return AgentSession.join(this, sessionId, name, handler);
    }

    /** An idempotent producer appending JSON messages to the durable stream at {@code path}. */
    public StreamProducer producer(String path, String producerId, long epoch) {
        return new StreamProducer(this, path, producerId, epoch);
    }

    /** One JSON call; 4xx/5xx become {@link TetherException}s. */
    JsonNode call(String method, String path, JsonNode body) {
        HttpRequest.Builder b = request(path)
                .header("Content-Type", "application/json")
                .method(
                        method,
                        body == null
                                ? HttpRequest.BodyPublishers.noBody()
                                : HttpRequest.BodyPublishers.ofString(body.toString()));
        HttpResponse<String> r = send(b.build());
        if (r.statusCode() >= 400) {
            throw error(r.statusCode(), r.body());
        }
        try {
            return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
        } catch (IOException e) {
            throw new TetherException(r.statusCode(), "bad_response", "not JSON: " + r.body());
        }
    }

    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60));
        String t = token.get();
        if (t != null) {
            b.header("Authorization", "Bearer " + t);
        }
        return b;
    }

    HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TetherException(0, "interrupted", "interrupted while waiting for " + request.uri());
        }
    }

    /** The error of an OpenAI-style or Durable Streams error body. */
    static TetherException error(int status, String body) {
        try {
            JsonNode e = JSON.readTree(body).path("error");
            return new TetherException(
                    status, e.path("code").asText("error"), e.path("message").asText(body));
        } catch (IOException | RuntimeException ex) {
            return new TetherException(status, "error", body);
        }
    }
}
