package dev.tether.store;

/**
 * A store operation failed. {@link #unavailable()} distinguishes a store that cannot take
 * writes right now (disk full, read-only, I/O error) from a programming error;
 * {@link #outcomeUnknown()} marks a commit whose failure left it unknowable whether the batch
 * was stored, so nobody may be told it failed.
 */
public final class StoreException extends Exception {
    private static final long serialVersionUID = 1L;
    private final boolean unavailable;
    private final boolean outcomeUnknown;

    public StoreException(String message, Throwable cause, boolean unavailable) {
        this(message, cause, unavailable, false);
    }

    private StoreException(String message, Throwable cause, boolean unavailable, boolean outcomeUnknown) {
        super(message, cause);
        this.unavailable = unavailable;
        this.outcomeUnknown = outcomeUnknown;
    }

    /** A commit failed and the store cannot tell whether its batch was stored. */
    public static StoreException outcomeUnknown(String message, Throwable cause) {
        return new StoreException(message, cause, true, true);
    }

    public boolean unavailable() {
        return unavailable;
    }

    public boolean outcomeUnknown() {
        return outcomeUnknown;
    }
}
