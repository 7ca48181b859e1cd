package dev.tether.store;

import java.nio.ByteBuffer;

/** Takes the rows of a {@link StreamStore#scan}, in position order, on the reading thread. */
@FunctionalInterface
public interface RowSink {
    /**
     * One row: its position and its bytes, from the buffer's position to its limit. The buffer is
     * the sink's to consume, but its contents are valid only during the call (the store reuses it).
     */
    void row(long position, ByteBuffer bytes) throws StoreException;
}
