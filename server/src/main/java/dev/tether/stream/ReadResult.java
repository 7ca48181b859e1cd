package dev.tether.stream;

import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import java.util.List;

/** The outcome of a catch-up read. */
public sealed interface ReadResult permits ReadResult.Data, Rejection {

    /**
     * Messages from {@code from} up to {@code next}. The first message may be a suffix of a
     * stored one when a binary read starts inside it.
     *
     * @param stream     the stream's metadata as of the read
     * @param nextOffset {@code next} as the offset to hand out (Stream-Next-Offset)
     * @param upToDate   whether {@code next} is the stream's tail
     */
    record Data(
            StreamRecord stream,
            long from,
            long next,
            Offset nextOffset,
            List<StoredMessage> messages,
            boolean upToDate)
            implements ReadResult {
        public Data {
            messages = List.copyOf(messages);
        }

        /** Whether the reader has reached the end of a closed stream. */
        public boolean atEndOfClosedStream() {
            return upToDate && stream.closed();
        }
    }
}
