package dev.tether.store;

import java.util.Objects;

/**
 * One stored unit of a stream: a JSON message in JSON mode, the body of one append otherwise.
 * It occupies positions {@code [position, position + data.length)}.
 */
public record StoredMessage(long position, byte[] data) {
    public StoredMessage {
        Objects.requireNonNull(data, "data");
        if (position < 0) {
            throw new IllegalArgumentException("negative position " + position);
        }
    }

    /** How many bytes (and positions) it holds. */
    public int length() {
        return data.length;
    }

    public long end() {
        return position + data.length;
    }
}
