package dev.tether.store;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * The storage SPI under the stream engine. Implementations: {@code sqlite} (embedded default),
 * {@code memory} (zero retention) and, later, {@code redis} (cluster).
 *
 * <p>Contract: {@link #commit} checks a batch's preconditions and applies it atomically (producer
 * state always commits with the data it describes), or applies none of it when a precondition
 * fails, and makes it visible to {@link #read}; {@link #sync} then makes every
 * batch committed before it durable. Splitting the two lets one flush cover many batches: the
 * engine commits what it has taken, then syncs once. {@link #commit} is called by one writer
 * thread at a time, {@link #sync} by one thread at a time, which may run concurrently with a
 * commit (the engine calls both from its writer thread; {@code GroupCommitBench} overlaps them);
 * {@link #read} may be called from any thread and never blocks the writer.
 */
public interface StreamStore extends AutoCloseable {

    /** Loads all metadata and producer state; called once at startup. */
    StoreContents load() throws StoreException;

    /**
     * Checks the commit's preconditions and, when all hold, applies its mutations atomically
     * (durable after the next {@link #sync}); when one fails, applies nothing and says which.
     */
    CommitResult commit(Commit commit) throws StoreException;

    /**
     * Makes every batch whose {@link #commit} returned before this call durable (fsync). A
     * failure means those batches may be lost on a crash.
     */
    default void sync() throws StoreException {}

    /**
     * Housekeeping between group commits, on the writer thread: after each one's flush, and at
     * least every 200 ms when no writes come. Each call must be short: a store with more to do
     * returns true, and is called again as soon as the writes queued by then are done. Nothing by
     * default.
     */
    default boolean maintain() {
        return false;
    }

    /**
     * The bytes this store holds on disk, as {@code --max-store-size} counts them (about: a
     * store may count in its own units), for {@code /metrics}; -1 for a store with no files of its
     * own (memory, Redis). Any thread: a figure from the last second or so, not one exact at any
     * commit.
     */
    default long diskBytes() {
        return -1;
    }

    /**
     * Returns the rows of a stream overlapping {@code [from, to)} in position order: the row
     * containing {@code from} first, then following rows until at least {@code maxBytes} bytes
     * have been returned (always at least one row when any overlaps).
     */
    List<StoredMessage> read(long streamId, long from, long to, int maxBytes) throws StoreException;

    /**
     * {@link #read}, handing each row's bytes to {@code sink} instead of returning them: a store
     * reading from files can pass a view of its read buffer, so a caller copying the bytes on
     * (into a response) copies them once. May block, like {@link #read}.
     */
    default void scan(long streamId, long from, long to, int maxBytes, RowSink sink) throws StoreException {
        for (StoredMessage m : read(streamId, from, to, maxBytes)) {
            sink.row(m.position(), ByteBuffer.wrap(m.data()));
        }
    }

    /**
     * Where {@link #read} with the same arguments would end and how many rows it would return,
     * answered from memory without reading any bytes (a caller then reads the range in pieces,
     * sending each while it reads the next); null when no row overlaps or the store cannot tell
     * without reading. Never blocks.
     */
    default ReadExtent extent(long streamId, long from, long to, int maxBytes) {
        return null;
    }

    /**
     * Whether a {@link #scan} with the same arguments would read memory only: every byte it would
     * hand on is resident in memory (for a store of files, in the page cache), so the scan cannot
     * wait for a disk and may run on a thread that must never block. A hint, checked without
     * reading: a page evicted right after the check costs that scan a disk read. False when the
     * store cannot tell. Never blocks.
     */
    default boolean resident(long streamId, long from, long to, int maxBytes) {
        return false;
    }

    /** A human-readable location, e.g. the database file (for logs and the CLI, not for HTTP bodies). */
    String describe();

    /** The store's kind ({@code sqlite}, {@code memory}), safe to show to any client. */
    String kind();

    @Override
    void close();
}
