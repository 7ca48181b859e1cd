package dev.tether.store;

/**
 * A store operation failed. {@link #unavailable()} distinguishes a store that cannot take
 * writes right now (disk full, read-only, I/O error) from a programming error;
 * {@link #outcomeUnknown()} marks a commit whose failure left it unknowable whether the batch
 * was stored, so nobody may be told it failed; {@link #needsRestart()} a store that takes no more
 * writes until it is opened again.
 */
public final class StoreException extends Exception {
    private static final long serialVersionUID = 1L;
    private final boolean unavailable;
    private final boolean outcomeUnknown;
    private final boolean needsRestart;

    public StoreException(String message, Throwable cause, boolean unavailable) {
        this(message, cause, unavailable, false, false);
    }

    private StoreException(
            String message, Throwable cause, boolean unavailable, boolean outcomeUnknown, boolean needsRestart) {
        super(message, cause);
        this.unavailable = unavailable;
        this.outcomeUnknown = outcomeUnknown;
        this.needsRestart = needsRestart;
    }

    /** A commit failed and the store cannot tell whether its batch was stored. */
    public static StoreException outcomeUnknown(String message, Throwable cause) {
        return new StoreException(message, cause, true, true, false);
    }

    /** A commit was not stored, and the store takes no more writes until it is opened again. */
    public static StoreException needsRestart(String message, Throwable cause) {
        return new StoreException(message, cause, true, false, true);
    }

    public boolean unavailable() {
        return unavailable;
    }

    public boolean outcomeUnknown() {
        return outcomeUnknown;
    }

    public boolean needsRestart() {
        return needsRestart;
    }
}
