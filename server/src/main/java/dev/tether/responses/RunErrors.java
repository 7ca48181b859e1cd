package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.inference.ModelException;

/**
 * The errors a response can end with ({@code response.error.code}) and the condition each is
 * reported as when a client waits for the answer (a foreground JSON request): one list, so a
 * stored failure and a live one read the same.
 *
 * <p>Stateless.
 */
public final class RunErrors {
    static final String SERVER_ERROR = "server_error";
    static final String STORAGE_UNAVAILABLE = "storage_unavailable";
    static final String SERVER_SHUTDOWN = "server_shutdown";
    /** The backend is at capacity (the embedded engine's inbox is full): retry shortly. */
    static final String OVERLOADED = "overloaded";

    private RunErrors() {}

    static String code(ModelException.Kind kind) {
        return switch (kind) {
            case INVALID_REQUEST -> "invalid_prompt";
            case CONTEXT_LENGTH_EXCEEDED -> "context_length_exceeded";
            case UNAVAILABLE -> "upstream_error";
            case OVERLOADED -> OVERLOADED;
        };
    }

    /** A backend failure as the refusal a waiting client gets, when no response stores it. */
    static Refusal refusal(ModelException e) {
        String code = code(e.kind());
        return new Refusal(condition(code), code, null, e.getMessage());
    }

    static ObjectNode error(String code, String message) {
        return Json.object().put("code", code).put("message", message);
    }

    private static Condition condition(String code) {
        return switch (code) {
            case "invalid_prompt", "context_length_exceeded" -> Condition.INVALID;
            case "upstream_error" -> Condition.UPSTREAM_FAILED;
            case STORAGE_UNAVAILABLE, SERVER_SHUTDOWN, OVERLOADED -> Condition.UNAVAILABLE;
            default -> Condition.INTERNAL;
        };
    }

    /** A failed response as the refusal a waiting client gets. */
    public static Refusal refusal(ResponseRecord failed) {
        ObjectNode error = failed.error();
        String code = error.path("code").asText();
        return new Refusal(
                condition(code),
                code,
                null,
                error.path("message").asText() + " (response " + failed.id() + " is stored with status failed)");
    }
}
