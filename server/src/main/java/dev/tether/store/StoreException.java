package dev.tether.store;

/**
 * A store operation failed. {@link #unavailable()} distinguishes a store that cannot take
 * writes right now (disk full, read-only, I/O error) from a programming error.
 */
public final class StoreException extends Exception {
    private static final long serialVersionUID = 1L;
    private final boolean unavailable;

    public StoreException(String message, Throwable cause, boolean unavailable) {
        super(message, cause);
        this.unavailable = unavailable;
    }

    public boolean unavailable() {
        return unavailable;
    }
}
