package dev.tether.stream;

import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.ProducerTuple;

/** The outcome of an append or close (POST). */
public sealed interface AppendResult permits AppendResult.Appended, AppendResult.Duplicate, Rejection {

    /**
     * Data (and/or the close) is durable.
     *
     * @param producer the accepted producer request, or null without producer headers
     */
    record Appended(StreamRecord stream, ProducerTuple producer) implements AppendResult {}

    /**
     * A retry of a request already accepted: nothing written.
     *
     * @param epoch      the producer's current epoch
     * @param highestSeq the highest sequence number accepted so far
     */
    record Duplicate(StreamRecord stream, long epoch, long highestSeq) implements AppendResult {}
}
