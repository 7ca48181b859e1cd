package dev.tether.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.store.StoreException;
import dev.tether.stream.Offset;
import dev.tether.stream.Rejection;
import dev.tether.stream.WriteRejectedException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.util.Map;
import java.util.concurrent.CompletionException;

/**
 * The one place that turns failures into HTTP responses: engine rejections, {@link HttpError}s,
 * storage trouble (503) and bugs (500, logged). Bodies are {@code {"error":{"code","message"}}}.
 */
final class ErrorResponses {
    private static final System.Logger LOG = System.getLogger(ErrorResponses.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    private ErrorResponses() {}

    static void send(HttpServerResponse response, Rejection rejection) {
        switch (rejection) {
            case Rejection.Invalid r -> write(response, 400, "bad_request", r.message(), Map.of());
            case Rejection.NotFound r -> write(response, 404, "not_found", r.message(), Map.of());
            case Rejection.Gone r -> write(response, 410, "gone", r.message(), Map.of());
            case Rejection.Conflict r -> write(response, 409, "conflict", r.message(), Map.of());
            case Rejection.StreamClosed r ->
                write(
                        response,
                        409,
                        "stream_closed",
                        r.message(),
                        Map.of(
                                ProtocolHeaders.CLOSED,
                                "true",
                                ProtocolHeaders.NEXT_OFFSET,
                                Offset.tail(r.stream()).toString()));
            case Rejection.SequenceGap r ->
                write(
                        response,
                        409,
                        "producer_sequence_gap",
                        r.message(),
                        Map.of(
                                ProtocolHeaders.PRODUCER_EXPECTED_SEQ,
                                Long.toString(r.expected()),
                                ProtocolHeaders.PRODUCER_RECEIVED_SEQ,
                                Long.toString(r.received())));
            case Rejection.StaleEpoch r ->
                write(
                        response,
                        403,
                        "producer_fenced",
                        r.message(),
                        Map.of(ProtocolHeaders.PRODUCER_EPOCH, Long.toString(r.currentEpoch())));
        }
    }

    static void send(HttpServerResponse response, Throwable failure) {
        Throwable t =
                failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (response.headWritten()) {
            response.reset();
            return;
        }
        switch (t) {
            case HttpError e -> write(response, e.status, e.code, e.getMessage(), e.headers);
            case WriteRejectedException e ->
                write(
                        response,
                        503,
                        e.reason() == WriteRejectedException.Reason.STORAGE_UNAVAILABLE
                                ? "storage_unavailable"
                                : e.reason().name().toLowerCase(java.util.Locale.ROOT),
                        e.getMessage(),
                        Map.of("Retry-After", "1"));
            case StoreException e ->
                write(
                        response,
                        503,
                        "storage_unavailable",
                        "storage unavailable: " + e.getMessage(),
                        Map.of("Retry-After", "1"));
            default -> {
                LOG.log(System.Logger.Level.ERROR, "unexpected failure serving a request", t);
                write(response, 500, "internal_error", "internal error: " + t, Map.of());
            }
        }
    }

    private static void write(
            HttpServerResponse response, int status, String code, String message, Map<String, String> headers) {
        if (response.ended() || response.closed()) {
            return;
        }
        ObjectNode body = JSON.createObjectNode();
        ObjectNode error = body.putObject("error");
        error.put("code", code);
        error.put("message", message);
        response.setStatusCode(status);
        ProtocolHeaders.security(response);
        headers.forEach(response::putHeader);
        response.putHeader("Content-Type", "application/json");
        response.putHeader("Cache-Control", "no-store");
        response.end(Buffer.buffer(body.toString()));
    }
}
