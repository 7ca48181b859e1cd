package dev.tether.store;

import java.util.List;

/**
 * Everything a single-node engine loads at startup: stream metadata and producer state.
 *
 * @param maxStreamId         the highest stream id ever allocated (0: none yet)
 * @param scopedOffsetsFromId streams with a lower id existed before offsets carried their stream's
 *                            incarnation, and may hold clients' unscoped offsets (see the
 *                            stream engine's {@code Offset})
 */
public record StoreContents(
        List<StreamRecord> streams, List<ProducerRecord> producers, long maxStreamId, long scopedOffsetsFromId) {
    public StoreContents {
        streams = List.copyOf(streams);
        producers = List.copyOf(producers);
    }
}
