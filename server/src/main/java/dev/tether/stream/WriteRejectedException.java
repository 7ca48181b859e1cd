package dev.tether.stream;

/** A write the engine could not take: the caller may retry later (HTTP 503). */
public final class WriteRejectedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Why the write was refused. */
    public enum Reason {
        /** The store failed to commit (disk full, read-only, I/O error). */
        STORAGE_UNAVAILABLE,
        /** The writer's bounded queue is full. */
        OVERLOADED,
        /** The memory budget ({@link MemoryBudget}) has no room for the request's body or state. */
        MEMORY_FULL,
        /** The server is shutting down. */
        SHUTTING_DOWN
    }

    private final Reason reason;

    public WriteRejectedException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
