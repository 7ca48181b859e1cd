package dev.tether.http;

import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.vertx.core.http.HttpServerRequest;

/**
 * Requests the HTTP decoder could not read (a malformed request line, headers or URI too long):
 * answered through the error table like every other failure — a JSON body saying what was wrong —
 * instead of Netty's empty 400, then the connection is closed, since the stream can no longer be
 * trusted to be in sync.
 *
 * <p>Stateless.
 */
final class InvalidRequests {
    private InvalidRequests() {}

    static void handle(HttpServerRequest req) {
        RequestIds.assign(req);
        req.response().putHeader("Connection", "close");
        req.response().endHandler(v -> req.connection().close());
        ErrorResponses.send(req.response(), refusal(req.decoderResult()));
    }

    private static Refusal refusal(DecoderResult result) {
        Throwable cause = result == null ? null : result.cause();
        return switch (cause) {
            case TooLongHttpLineException e ->
                Refusal.of(Condition.URI_TOO_LONG, null, "the request line is too long (at most 4096 bytes)");
            case TooLongHttpHeaderException e ->
                Refusal.of(Condition.HEADERS_TOO_LARGE, null, "the request headers are too large (at most 8 KiB)");
            case null -> Refusal.invalid("the request could not be parsed as HTTP/1.1");
            default -> Refusal.invalid("the request could not be parsed as HTTP/1.1: " + sanitized(cause));
        };
    }

    /** The decoder's own words, without exception class names or control characters. */
    private static String sanitized(Throwable cause) {
        String m = String.valueOf(cause.getMessage());
        StringBuilder sb = new StringBuilder();
        for (char c : m.toCharArray()) {
            sb.append(c < 0x20 || c == 0x7f ? '?' : c);
            if (sb.length() >= 120) {
                break;
            }
        }
        return sb.toString();
    }
}
