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
     * @param pieces     null when {@code messages} hold the read; else {@code messages} is empty and
     *                   the caller reads {@code [from, next)} in pieces (see {@link StreamEngine#catchUp})
     */
    record Data(
            StreamRecord stream,
            long from,
            long next,
            Offset nextOffset,
            List<StoredMessage> messages,
            boolean upToDate,
            Pieces pieces)
            implements ReadResult {
        public Data {
            messages = List.copyOf(messages);
            if (pieces != null && !messages.isEmpty()) {
                throw new IllegalArgumentException("a read is either messages or pieces");
            }
        }

        public Data(
                StreamRecord stream,
                long from,
                long next,
                Offset nextOffset,
                List<StoredMessage> messages,
                boolean upToDate) {
            this(stream, from, next, nextOffset, messages, upToDate, null);
        }

        /** Whether the reader has reached the end of a closed stream. */
        public boolean atEndOfClosedStream() {
            return upToDate && stream.closed();
        }
    }
}
