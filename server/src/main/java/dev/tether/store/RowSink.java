package dev.tether.store;

import java.nio.ByteBuffer;

/** Takes the rows of a {@link StreamStore#scan}, in position order, on the reading thread. */
@FunctionalInterface
public interface RowSink {
    /**
     * One row: its position and its bytes, from the buffer's position to its limit. The buffer is
     * the sink's to consume, but only during the call: it may be a view of a mapped file that is
     * unmapped after it (the log store), and a copy from it then, through its raw address as
     * Netty copies, would crash the JVM. Copy the bytes before returning. The store may hand the
     * same buffer object again for the next row, its position and limit moved.
     */
    void row(long position, ByteBuffer bytes) throws StoreException;
}
