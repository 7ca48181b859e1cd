package dev.tether.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.responses.ApiError;
import dev.tether.responses.Json;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.util.concurrent.CompletionException;

/**
 * The one place that turns failures on the OpenAI-compatible endpoints ({@code /v1/responses},
 * {@code /v1/conversations}) into OpenAI's error envelope
 * {@code {"error":{"message","type","param","code"}}}. The SDKs read {@code status}, {@code code}
 * and {@code param} from it.
 */
final class ApiErrors {
    private ApiErrors() {}

    /** The HTTP layer's own failures, then {@link ApiError#from} for everything else. */
    static ApiError map(Throwable failure) {
        Throwable t = failure;
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return switch (t) {
            case HttpError e ->
                new ApiError(
                        e.status,
                        e.status >= 500 ? "server_error" : "invalid_request_error",
                        e.code,
                        null,
                        e.getMessage());
            case JsonProcessingException e ->
                ApiError.invalid(null, "The body is not valid JSON: " + e.getOriginalMessage());
            default -> ApiError.from(t);
        };
    }

    static ObjectNode envelope(ApiError e) {
        ObjectNode body = Json.object();
        ObjectNode error = body.putObject("error");
        error.put("message", e.getMessage());
        error.put("type", e.type());
        error.put("param", e.param());
        error.put("code", e.code());
        return body;
    }

    static void send(HttpServerResponse res, Throwable failure) {
        ApiError e = map(failure);
        if (res.headWritten()) {
            res.reset();
            return;
        }
        if (res.ended() || res.closed()) {
            return;
        }
        ProtocolHeaders.security(res);
        if (e.status() == 503 && "no_backend".equals(e.code())) {
            res.putHeader("x-should-retry", "false"); // openai-node would otherwise retry a config error
        }
        if (e.status() == 503 && "overloaded".equals(e.code())) {
            res.putHeader("Retry-After", "1");
        }
        res.setStatusCode(e.status())
                .putHeader("Content-Type", "application/json")
                .end(Buffer.buffer(Json.bytes(envelope(e))));
    }
}
