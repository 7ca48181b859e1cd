package dev.tether.stream;

/**
 * Tuning of the stream engine.
 *
 * @param writeQueueCapacity commands the writer may have queued before appends get 503
 * @param maxBatch           commands committed together at most (one transaction, one fsync)
 * @param readChunkBytes     the most bytes one catch-up read returns
 * @param recentWindowBytes  per-stream bytes of recent messages kept in memory for live readers
 * @param readThreads        concurrent store reads
 * @param retainBytes        per-stream retention: older whole messages beyond this many bytes are
 *                           dropped (reads below the retained start get 410); 0 keeps everything
 * @param maxMemoryBytes     the {@link MemoryBudget}: request bodies, queued writes, producer state
 *                           and (evictable) recent windows together; the proposed {@code --max-memory}
 */
public record EngineSettings(
        int writeQueueCapacity,
        int maxBatch,
        int readChunkBytes,
        int recentWindowBytes,
        int readThreads,
        long retainBytes,
        long maxMemoryBytes) {
    public EngineSettings {
        if (writeQueueCapacity < 1
                || maxBatch < 1
                || readChunkBytes < 1
                || recentWindowBytes < 0
                || readThreads < 1
                || retainBytes < 0
                || maxMemoryBytes < 1) {
            throw new IllegalArgumentException("engine settings must be positive");
        }
    }

    /** The default {@link #maxBatch}. */
    public static final int DEFAULT_MAX_BATCH = 2_048;

    /**
     * The default {@link #recentWindowBytes}: 8 KiB, room for the last few group commits of a stream
     * that takes a few messages in each, which is what a live reader at the tail reads (a stream
     * that takes more in one commit sends its tail readers to the store; {@code --recent-window}
     * raises it). A window is young memory: on a busy
     * stream all of it is newer than the last young collection, so every one copies every busy
     * stream's window, and a pause grows with busy streams times window size. At 64 KiB (until
     * 2026-12-07), 100 busy streams made 8-13 MB of the 18-23 MB each pause copied under the append
     * load; at 8 KiB, about 1 MB (docs/benchmarks.md). A reader further behind reads the store, which
     * the log store answers from the page cache.
     */
    public static final int DEFAULT_RECENT_WINDOW_BYTES = 8 * 1024;

    /** The memory budget defaults to {@link MemoryBudget#defaultLimit()}: half the maximum heap. */
    public static EngineSettings defaults() {
        return new EngineSettings(
                16_384, DEFAULT_MAX_BATCH, 1 << 20, DEFAULT_RECENT_WINDOW_BYTES, 4, 0, MemoryBudget.defaultLimit());
    }

    public EngineSettings withMaxBatch(int commands) {
        return new EngineSettings(
                writeQueueCapacity,
                commands,
                readChunkBytes,
                recentWindowBytes,
                readThreads,
                retainBytes,
                maxMemoryBytes);
    }

    public EngineSettings withRetainBytes(long bytes) {
        return new EngineSettings(
                writeQueueCapacity, maxBatch, readChunkBytes, recentWindowBytes, readThreads, bytes, maxMemoryBytes);
    }

    public EngineSettings withRecentWindowBytes(int bytes) {
        return new EngineSettings(
                writeQueueCapacity, maxBatch, readChunkBytes, bytes, readThreads, retainBytes, maxMemoryBytes);
    }

    public EngineSettings withMaxMemoryBytes(long bytes) {
        return new EngineSettings(
                writeQueueCapacity, maxBatch, readChunkBytes, recentWindowBytes, readThreads, retainBytes, bytes);
    }
}
