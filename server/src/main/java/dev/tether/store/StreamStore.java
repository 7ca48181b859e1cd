package dev.tether.store;

import java.util.List;

/**
 * The storage SPI under the stream engine. Implementations: {@code sqlite} (embedded default),
 * {@code memory} (zero retention) and, later, {@code redis} (cluster).
 *
 * <p>Contract: {@link #commit} checks a batch's preconditions and applies it atomically (producer
 * state always commits with the data it describes), or applies none of it when a precondition
 * fails, and makes it visible to {@link #read}; {@link #sync} then makes every
 * batch committed before it durable. Splitting the two lets the engine pipeline: the next
 * batch commits while the previous one is being flushed, and one flush covers many batches.
 * {@link #commit} is called by one writer thread at a time, {@link #sync} by one syncing
 * thread at a time, concurrently with it; {@link #read} may be called from any thread and
 * never blocks the writer.
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
     * Returns the rows of a stream overlapping {@code [from, to)} in position order: the row
     * containing {@code from} first, then following rows until at least {@code maxBytes} bytes
     * have been returned (always at least one row when any overlaps).
     */
    List<StoredMessage> read(long streamId, long from, long to, int maxBytes) throws StoreException;

    /** Whether data survives a restart (false for the memory store). */
    boolean durable();

    /** A human-readable location, e.g. the database file (for logs and the CLI, not for HTTP bodies). */
    String describe();

    /** The store's kind ({@code sqlite}, {@code memory}), safe to show to any client. */
    String kind();

    @Override
    void close();
}
