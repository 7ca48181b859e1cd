package dev.tether.responses;

import java.util.Locale;

/** A response's lifecycle; the last four are terminal. */
public enum ResponseStatus {
    QUEUED,
    IN_PROGRESS,
    COMPLETED,
    FAILED,
    CANCELLED,
    INCOMPLETE;

    public boolean terminal() {
        return ordinal() >= COMPLETED.ordinal();
    }

    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }

    static ResponseStatus parse(String json) {
        return valueOf(json.toUpperCase(Locale.ROOT));
    }

    /** The SSE event that ends a response with this status. */
    String terminalEvent() {
        return switch (this) {
            case COMPLETED -> "response.completed";
            case FAILED -> "response.failed";
            case INCOMPLETE -> "response.incomplete";
            // No cancel event exists in the Responses spec; this one is Tether's, documented in docs/responses.md.
            case CANCELLED -> "response.cancelled";
            case QUEUED, IN_PROGRESS -> throw new IllegalStateException(this + " is not terminal");
        };
    }
}
