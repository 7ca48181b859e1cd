package dev.tether.stream;

import dev.tether.store.RowSink;
import java.util.concurrent.CompletionStage;

/**
 * A catch-up read too large to hold at once, planned from the store's index: {@code rows} messages
 * making up {@link ReadResult.Data#from} to {@link ReadResult.Data#next}, read one piece at a time,
 * so the first bytes go out while the rest is still being read, only a piece or two is ever in
 * memory, and each message's bytes go from the store's read buffer to the caller's in one copy.
 */
public interface Pieces {
    /** The bytes a piece aims at: enough to amortise a read, small enough to overlap with sending. */
    int PIECE_BYTES = 512 * 1024;

    /** How many messages the whole read holds (JSON mode needs it for the body's length). */
    int rows();

    /**
     * Reads the piece starting at {@code from} (the read's start, or where the previous piece
     * ended): whole messages, about {@link #PIECE_BYTES} of them, none past the read's end (the
     * first cut to start at {@code from} when a binary read starts inside it). On the reading
     * thread, calls {@link Sink#size} once and then the sink's {@code row} for each message.
     * Completes with where the piece ends; fails if its messages have been trimmed or deleted
     * since the read was planned.
     */
    CompletionStage<Long> read(long from, Sink sink);

    /** Takes one piece. */
    interface Sink extends RowSink {
        /** Called before the rows: the piece holds {@code rows} messages, {@code bytes} bytes in all. */
        void size(int rows, long bytes);
    }
}
