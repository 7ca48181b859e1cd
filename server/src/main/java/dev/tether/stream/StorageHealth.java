package dev.tether.stream;

import java.util.Objects;

/**
 * Whether the store takes writes. Storage failure is a state, not a crash: while unavailable,
 * appends fail with 503 and reads keep working; each new write retries the store.
 *
 * @param sinceMillis when the current state began
 */
public record StorageHealth(boolean writable, String detail, long sinceMillis) {
    public StorageHealth {
        Objects.requireNonNull(detail, "detail");
    }
}
