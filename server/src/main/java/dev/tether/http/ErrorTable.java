package dev.tether.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.store.StoreException;
import dev.tether.stream.Rejection;
import dev.tether.stream.WriteRejectedException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletionException;

/**
 * The one error table: every failure, whatever API it happened on, becomes a {@link Problem} here,
 * with the status, code, OpenAI error type and headers its {@link Condition} has. The Durable
 * Streams envelope ({@link ErrorResponses}), the OpenAI envelope and the Responses WebSocket error
 * frames ({@link ApiErrors}) only render it, so the same condition gets the same status and {@code
 * Retry-After} on every API.
 *
 * <p>Stateless.
 */
final class ErrorTable {
    private static final System.Logger LOG = System.getLogger(ErrorTable.class.getName());
    /** Seconds a client should wait before retrying a temporary refusal. */
    static final String RETRY_AFTER_SECONDS = "1";

    private ErrorTable() {}

    /** What one condition looks like on the wire. */
    record Row(int status, String defaultCode, String openAiType, boolean retryable) {}

    /**
     * A failure ready to render.
     *
     * @param code    never null: the specific code or the condition's default
     * @param param   the parameter at fault, or null
     * @param headers extra response headers ({@code Retry-After}, {@code WWW-Authenticate}, {@code Allow})
     */
    record Problem(
            Condition condition,
            int status,
            String code,
            String type,
            String param,
            String message,
            Map<String, String> headers) {}

    static Row row(Condition condition) {
        return switch (condition) {
            case INVALID -> new Row(400, "bad_request", "invalid_request_error", false);
            case UNAUTHENTICATED -> new Row(401, "unauthorized", "authentication_error", false);
            case FORBIDDEN -> new Row(403, "forbidden", "permission_error", false);
            case NOT_FOUND -> new Row(404, "not_found", "invalid_request_error", false);
            case METHOD_NOT_ALLOWED -> new Row(405, "method_not_allowed", "invalid_request_error", false);
            case CONFLICT -> new Row(409, "conflict", "invalid_request_error", false);
            case GONE -> new Row(410, "gone", "invalid_request_error", false);
            case TOO_LARGE -> new Row(413, "payload_too_large", "invalid_request_error", false);
            case URI_TOO_LONG -> new Row(414, "uri_too_long", "invalid_request_error", false);
            case HEADERS_TOO_LARGE -> new Row(431, "headers_too_large", "invalid_request_error", false);
            case UPGRADE_REQUIRED -> new Row(426, "upgrade_required", "invalid_request_error", false);
            case RATE_LIMITED -> new Row(429, "rate_limit_exceeded", "rate_limit_exceeded", true);
            case INTERNAL -> new Row(500, "internal_error", "server_error", false);
            case UPSTREAM_FAILED -> new Row(502, "upstream_error", "server_error", false);
            case UNAVAILABLE -> new Row(503, "unavailable", "server_error", true);
            case NOT_CONFIGURED -> new Row(503, "not_configured", "server_error", false);
            case UPSTREAM_TIMEOUT -> new Row(504, "upstream_timeout", "server_error", false);
            case VERSION_NOT_SUPPORTED -> new Row(505, "http_version_not_supported", "invalid_request_error", false);
        };
    }

    /** Any failure: a {@link Refusal}, the engine's and store's exceptions, a parse error, or a bug. */
    static Problem describe(Throwable failure, String requestId) {
        Throwable t = failure;
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return switch (t) {
            case Refusal r -> problem(r.condition(), r.code(), r.param(), r.getMessage());
            case WriteRejectedException e ->
                problem(Condition.UNAVAILABLE, e.reason().name().toLowerCase(Locale.ROOT), null, e.getMessage());
            case StoreException e ->
                problem(Condition.UNAVAILABLE, "storage_unavailable", null, "storage unavailable: " + e.getMessage());
            case JsonProcessingException e ->
                problem(
                        Condition.INVALID,
                        null,
                        null,
                        "the body is not valid JSON: " + dev.tether.responses.Json.describe(e));
            case io.vertx.core.http.HttpClosedException e ->
                // The client went away mid-request: nobody is left to read an answer, and it is no bug.
                problem(
                        Condition.INVALID,
                        "connection_closed",
                        null,
                        "the connection closed before the request was read");
            default -> {
                // A bug: the client gets the request id to quote, the log gets the details.
                LOG.log(System.Logger.Level.ERROR, "unexpected failure serving request " + requestId, t);
                yield problem(
                        Condition.INTERNAL,
                        null,
                        null,
                        "internal error; quote request id " + requestId
                                + " to the operator (the server log has the details)");
            }
        };
    }

    /** A refusal of the stream engine (Durable Streams §5: each rejection has one status). */
    static Problem describe(Rejection rejection) {
        return switch (rejection) {
            case Rejection.Invalid r -> problem(Condition.INVALID, null, null, r.message());
            case Rejection.NotFound r -> problem(Condition.NOT_FOUND, null, null, r.message());
            case Rejection.Gone r -> problem(Condition.GONE, null, null, r.message());
            case Rejection.Conflict r -> problem(Condition.CONFLICT, null, null, r.message());
            case Rejection.StreamClosed r -> problem(Condition.CONFLICT, "stream_closed", null, r.message());
            case Rejection.SequenceGap r -> problem(Condition.CONFLICT, "producer_sequence_gap", null, r.message());
            case Rejection.StaleEpoch r -> problem(Condition.FORBIDDEN, "producer_fenced", null, r.message());
            case Rejection.Unavailable r -> problem(Condition.UNAVAILABLE, "storage_unavailable", null, r.message());
        };
    }

    static Problem problem(Condition condition, String code, String param, String message) {
        Row row = row(condition);
        Map<String, String> headers = new LinkedHashMap<>();
        if (row.retryable()) {
            headers.put("Retry-After", RETRY_AFTER_SECONDS);
        }
        if (condition == Condition.UNAUTHENTICATED) {
            headers.put("WWW-Authenticate", wwwAuthenticate(code, message));
        }
        if (condition == Condition.NOT_CONFIGURED) {
            headers.put("x-should-retry", "false"); // openai-node would otherwise retry a configuration error
        }
        if (condition == Condition.METHOD_NOT_ALLOWED && param != null) {
            headers.put("Allow", param);
        }
        return new Problem(
                condition,
                row.status(),
                code != null ? code : row.defaultCode(),
                row.openAiType(),
                param,
                message,
                headers);
    }

    /** RFC 6750 §3: a bare challenge when credentials are missing, {@code invalid_token} when they are bad. */
    private static String wwwAuthenticate(String code, String message) {
        if (code == null || code.equals("missing_credentials")) {
            return "Bearer realm=\"tether\"";
        }
        return "Bearer realm=\"tether\", error=\"invalid_token\", error_description=\""
                + message.replace('"', '\'').replace('\\', '/') + "\"";
    }
}
