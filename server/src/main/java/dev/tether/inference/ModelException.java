package dev.tether.inference;

/**
 * A backend could not produce the turn. The message is meant for the API client: it says
 * which backend failed and how.
 */
public final class ModelException extends Exception {
    private static final long serialVersionUID = 1L;

    private final Kind kind;

    public ModelException(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    public ModelException(Kind kind, String message, Throwable cause) {
        super(message, cause, false, false);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    /** What went wrong, which decides the status a client sees. */
    public enum Kind {
        /** The backend rejected the request as invalid (a 4xx upstream): the client's fault. */
        INVALID_REQUEST,
        /** The prompt does not fit the model's context window. */
        CONTEXT_LENGTH_EXCEEDED,
        /** The backend is unreachable, failed or timed out. */
        UNAVAILABLE,
        /** The backend is at capacity (its queue of waiting turns is full): retry shortly. */
        OVERLOADED
    }
}
