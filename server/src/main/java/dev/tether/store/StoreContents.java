package dev.tether.store;

import java.util.List;

/** Everything a single-node engine loads at startup: stream metadata and producer state. */
public record StoreContents(List<StreamRecord> streams, List<ProducerRecord> producers, long maxStreamId) {
    public StoreContents {
        streams = List.copyOf(streams);
        producers = List.copyOf(producers);
    }
}
