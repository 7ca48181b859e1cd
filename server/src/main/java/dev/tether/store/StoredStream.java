package dev.tether.store;

import java.util.List;

/**
 * One stream as a {@link SharedStreamStore} holds it now.
 *
 * @param record      its metadata, exactly as stored (what a {@link Precondition.StreamIs} compares)
 * @param producers   its producers' state, or empty when not asked for
 * @param forkRefs    how many streams (in any lifecycle) fork from it and still read from it ({@link StreamRecord#readsForkSource})
 * @param renewedAtMillis the latest TTL-renewing access any node recorded (0: none beyond the record's)
 */
public record StoredStream(StreamRecord record, List<ProducerRecord> producers, int forkRefs, long renewedAtMillis) {
    public StoredStream {
        java.util.Objects.requireNonNull(record, "record");
        producers = List.copyOf(producers);
    }
}
