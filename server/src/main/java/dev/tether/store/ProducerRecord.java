package dev.tether.store;

import java.util.Objects;

/** The last request accepted from one idempotent producer on one stream. */
public record ProducerRecord(long streamId, String producerId, long epoch, long seq) {
    public ProducerRecord {
        Objects.requireNonNull(producerId, "producerId");
        if (epoch < 0 || seq < 0) {
            throw new IllegalArgumentException("negative epoch or seq");
        }
    }
}
