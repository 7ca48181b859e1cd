package dev.tether.stream;

import java.util.Objects;

/**
 * Whether the engine takes writes. Storage failure is a state, not a crash: while
 * {@link State#UNAVAILABLE}, writes fail with 503 and each new write retries the store; reads keep
 * working. {@link State#FAILED} needs a restart: a flush failed (the kernel may have dropped
 * what it held), a commit's outcome could not be told, or a writer thread died.
 *
 * @param sinceMillis when the current state began
 */
public record StorageHealth(State state, String detail, long sinceMillis) {
    public StorageHealth {
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(detail, "detail");
    }

    /** The engine's write path, as /health reports it. */
    public enum State {
        WRITABLE,
        /** The store refuses writes (full or read-only disk); service resumes when it takes them. */
        UNAVAILABLE,
        /** Writes are refused until the server restarts. */
        FAILED
    }

    public boolean writable() {
        return state == State.WRITABLE;
    }
}
