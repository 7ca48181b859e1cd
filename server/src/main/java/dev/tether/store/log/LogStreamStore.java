package dev.tether.store.log;

import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.Mutation;
import dev.tether.store.Precondition;
import dev.tether.store.ReadExtent;
import dev.tether.store.RowSink;
import dev.tether.store.StoreContents;
import dev.tether.store.StoreException;
import dev.tether.store.StoreState;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The log store: every commit is one batch appended to an append-only log of segment files
 * ({@link LogFormat}), holding each message's bytes as sent and the metadata that changed with
 * them (stream records, producer state), so data and producer state are atomic without a second
 * store. {@link #sync} is one {@code fdatasync} for every batch written since the last one (group
 * commit). The state needed to serve — stream records, producers, and a per-stream index of where
 * each message's bytes are ({@link StreamIndex}, whose full chunks, and a quiet stream's filling
 * one, are in a {@link ChunkFile}, off the heap) — lives in memory and is rebuilt at open by replaying the log ({@link LogRecovery}); a
 * torn batch at the tail (a crash mid-write, or writes the page cache never flushed) fails its CRC
 * and is cut off.
 *
 * <p>Every {@link #CHECKPOINT_BYTES} of log, at a segment boundary, a {@link Checkpoint} of the
 * metadata is written, so recovery replays only the log after it, and the segments before it
 * that hold no message any stream still has (trimmed, deleted, expired) are deleted. Each sealed
 * segment has an index file of its messages ({@link SegmentIndex}), from which recovery rebuilds
 * the indexes of the segments before the checkpoint. Reads: {@link LogReader}.
 * Segments after the first are zero-filled ahead of time ({@link Preallocator}), which makes each
 * group commit's {@code fdatasync} cheaper ({@code --log-preallocate off} turns it off). Not yet: shards.
 *
 * <p>Thread-safety: {@link #commit} from one writer thread; {@link #sync} from one thread, which
 * may run alongside a commit (the engine calls both from its writer thread); {@link #read} from
 * any thread.
 */
public final class LogStreamStore implements StreamStore {
    private static final System.Logger LOG = System.getLogger(LogStreamStore.class.getName());
    static final long SEGMENT_BYTES = 64L << 20;
    static final long CHECKPOINT_BYTES = 256L << 20;
    /** How often {@link #maintain} recounts {@link #heldBytes}. */
    private static final long HELD_RECOUNT_NANOS = 1_000_000_000L;

    private final Path dir;
    private final long segmentBytes;
    private final long checkpointBytes;
    /** The log offset the current checkpoint covers up to (0: none yet). Writer thread. */
    private long checkpointed;
    /** Checkpoints written since open (benchmarks). */
    private volatile long checkpoints;

    private final NavigableMap<Long, Segment> segments = new ConcurrentSkipListMap<>();
    private final StoreState state = new StoreState();
    private final Map<Long, StreamIndex> indexes = new ConcurrentHashMap<>();
    private final LogReader reader = new LogReader(segments, indexes);
    /** Where the indexes' full and parked chunks go ({@link ChunkFile}); null when none could be made: the heap. */
    private ChunkFile chunks;

    /** Parks the filling index chunks of streams gone quiet. Writer thread. */
    private QuietStreams quiet = new QuietStreams(System.nanoTime());
    /** Where batches are encoded ({@link LogFormat#encode}). Writer thread. */
    private ByteBuffer encodeBuffer = ByteBuffer.allocateDirect(64 << 10);
    /**
     * The fdatasync of a roll's full segment failed: the log takes no more writes until it is
     * reopened, and no later {@link #sync} reports success. After a failed fdatasync the kernel
     * may have dropped the pages and a second one succeed (fsyncgate); recovery re-reads what is on
     * disk. (A roll that failed after its flush is tried again by the next commit.)
     */
    private volatile IOException rollFlushFailed;
    /**
     * A roll sealed the active segment and then failed: the next commit rolls again, whatever its
     * size, since nothing may follow the sealed data (its index file is finished, and what the
     * failed attempt left at the next segment's name must stay past the segment's end). Writer thread.
     */
    private boolean rollPending;

    private volatile Segment active;
    /** The index file of {@link #active}, written as it fills. Writer thread. */
    private SegmentIndex.Writer activeIndex;
    /** Makes the next segment, zero-filled, while this one fills ({@link Segment}). */
    private final Preallocator preallocator;
    /** The spare for the segment after {@link #active} was asked for. Writer thread. */
    private boolean spareAsked;
    /** Each segment after the first is zero-filled ahead ({@code --log-preallocate}). */
    private final boolean preallocate;

    /** The most bytes the log may take on disk ({@code --max-store-size}), or {@link Long#MAX_VALUE}. */
    private final long maxBytes;
    /** {@link #held()} as last counted: at open, then by {@link #maintain}. */
    private volatile long heldBytes;
    /** When {@link #heldBytes} was counted ({@link System#nanoTime}). Writer thread. */
    private long heldCountedAt;
    /** A commit was refused for {@link #maxBytes}, and not enough has been freed since. Writer thread. */
    private boolean full;
    /**
     * A stream was dropped or trimmed since the last checkpoint (or the log was opened), so a
     * checkpoint may give whole segments back. Writer thread.
     */
    private boolean freedSinceCheckpoint = true;
    /** Why the log takes no writes (a read-only disk), or null. Writer thread after open. */
    private String readOnly;
    /** On a read-only disk: where the active segment's torn tail starts, cut once writable; else -1. */
    private long tornTailAt = -1;
    /** On a read-only disk: where that torn tail ended when the log was opened; else -1. */
    private long tornTailEnd = -1;
    /**
     * The log was opened on a read-only disk and changed on disk before it became writable
     * (another server wrote to it): what this store holds in memory is stale, and it takes no
     * writes until it is opened again. Writer thread.
     */
    private String changedWhileReadOnly;
    /** Held while the log takes writes (not on a read-only disk, until it becomes writable). */
    private DirectoryLock lock;

    private LogStreamStore(
            Path dir, long segmentBytes, long checkpointBytes, long maxBytes, boolean preallocate, String readOnly) {
        this.dir = dir;
        this.segmentBytes = segmentBytes;
        this.checkpointBytes = checkpointBytes;
        this.maxBytes = maxBytes;
        this.readOnly = readOnly;
        this.preallocate = preallocate;
        this.preallocator = new Preallocator(dir, segmentBytes, () -> active == null ? 0 : active.size());
    }

    /** Opens (creating if needed) the log in {@code <dataDir>/log}, replaying it. */
    public static LogStreamStore open(Path dataDir) throws StoreException {
        return open(dataDir, null);
    }

    /**
     * Opens the log in {@code <dataDir>/log}, replaying it. On a read-only disk the log is opened
     * for reading: reads are served and every commit is refused as unavailable until the disk is
     * writable again.
     *
     * @param maxBytes the most bytes the log may take on disk, segments and their index files ({@code --max-store-size}), or null
     */
    public static LogStreamStore open(Path dataDir, Long maxBytes) throws StoreException {
        return open(dataDir, maxBytes, true);
    }

    /**
     * @param maxBytes the most bytes the log may take on disk, segments and their index files ({@code --max-store-size}), or null
     * @param preallocate whether the next segment is zero-filled ahead ({@code --log-preallocate})
     */
    public static LogStreamStore open(Path dataDir, Long maxBytes, boolean preallocate) throws StoreException {
        return open(
                dataDir, SEGMENT_BYTES, CHECKPOINT_BYTES, maxBytes == null ? Long.MAX_VALUE : maxBytes, preallocate);
    }

    static LogStreamStore open(Path dataDir, long segmentBytes) throws StoreException {
        return open(dataDir, segmentBytes, Long.MAX_VALUE, Long.MAX_VALUE, true);
    }

    static LogStreamStore open(Path dataDir, long segmentBytes, long checkpointBytes) throws StoreException {
        return open(dataDir, segmentBytes, checkpointBytes, Long.MAX_VALUE, true);
    }

    static LogStreamStore open(Path dataDir, long segmentBytes, long checkpointBytes, boolean preallocate)
            throws StoreException {
        return open(dataDir, segmentBytes, checkpointBytes, Long.MAX_VALUE, preallocate);
    }

    /** @param checkpointBytes how much the log grows between checkpoints */
    static LogStreamStore open(
            Path dataDir, long segmentBytes, long checkpointBytes, long maxBytes, boolean preallocate)
            throws StoreException {
        Path dir = dataDir.resolve("log");
        String readOnly = Files.isDirectory(dir) && !Files.isWritable(dir)
                ? dir + " is not writable (a read-only disk?): reads are served, writes are refused until it is"
                        + " writable again"
                : null;
        LogStreamStore store = new LogStreamStore(dir, segmentBytes, checkpointBytes, maxBytes, preallocate, readOnly);
        try {
            if (readOnly == null) {
                LogDirectory.createDurably(store.dir);
                store.lock = DirectoryLock.take(store.dir);
            } else {
                LOG.log(System.Logger.Level.WARNING, readOnly);
            }
            store.recover();
            return store;
        } catch (IOException e) {
            store.close();
            throw new StoreException("cannot open the log in " + store.dir + ": " + e.getMessage(), e, true);
        } catch (StoreException | RuntimeException e) {
            store.close();
            throw e;
        }
    }

    private void recover() throws IOException, StoreException {
        if (readOnly == null) {
            preallocator.discardLeftover();
        }
        // A log opened read-only keeps its chunk file in the temp dir: it is a cache, not the log's.
        chunks = ChunkFile.open(readOnly == null ? dir : Path.of(System.getProperty("java.io.tmpdir")));
        LogRecovery.Recovered r = LogRecovery.run(dir, readOnly, segments, state, indexes, chunks);
        checkpointed = r.checkpointed();
        activeIndex = r.activeIndex();
        tornTailAt = r.tornTailAt();
        tornTailEnd = r.tornTailEnd();
        active = segments.lastEntry().getValue();
        heldBytes = held();
        heldCountedAt = System.nanoTime();
    }

    /** Tests: a stream is quiet after periods of {@code periodNanos} instead of 10 s. */
    void quietPeriod(long periodNanos) {
        quiet = new QuietStreams(System.nanoTime(), periodNanos);
    }

    /** Chunks of the indexes held on the heap (tests). */
    int indexChunksOnHeap() {
        return indexes.values().stream().mapToInt(StreamIndex::chunksOnHeap).sum();
    }

    /** Chunks of the indexes in the chunk file (tests). */
    int indexChunksInFile() {
        return chunks == null ? 0 : chunks.slotsInUse();
    }

    @Override
    public StoreContents load() {
        return state.contents(); // a new kind of store: every offset a client holds has its incarnation
    }

    @Override
    public CommitResult commit(Commit commit) throws StoreException {
        List<Precondition> failed = state.failed(commit.expect());
        if (!failed.isEmpty()) {
            return new CommitResult.Conflict(failed);
        }
        if (commit.apply().isEmpty()) {
            return CommitResult.COMMITTED;
        }
        if (readOnly != null && !becameWritable()) {
            throw new StoreException(readOnly, null, true);
        }
        if (rollFlushFailed != null) {
            throw StoreException.needsRestart(
                    "the log takes no writes since flushing a full segment failed (" + rollFlushFailed.getMessage()
                            + ")",
                    rollFlushFailed);
        }
        LogFormat.Encoded batch = LogFormat.encode(commit.apply(), state::stream, encodeBuffer);
        if (batch.bytes().isDirect() && batch.bytes().capacity() > encodeBuffer.capacity()) {
            encodeBuffer = batch.bytes(); // grown: keep the larger one for the next batches
        }
        if (maxBytes != Long.MAX_VALUE && addsData(commit)) {
            refuseIfFull(batch.bytes().remaining());
        }
        Segment s = active;
        if (rollPending || s.size() > 0 && s.size() + batch.bytes().remaining() > segmentBytes) {
            s = nextSegment(false);
        }
        long before = s.size();
        long at;
        try {
            at = s.append(batch.bytes());
        } catch (IOException e) {
            preallocator.discard(); // a full disk: the spare's space goes back to the log
            // Nothing is applied; cut what may have reached the file, or the next batch would follow garbage.
            try {
                s.truncate(before);
            } catch (IOException cut) {
                throw StoreException.outcomeUnknown(
                        "a log write failed and its partial bytes could not be cut off " + s.file + ": " + cut, cut);
            }
            throw new StoreException("writing the log failed: " + e.getMessage(), e, true);
        }
        if (preallocate && !spareAsked) {
            spareAsked = true;
            // Under --max-store-size, only while the spare and this segment's zero tail fit too.
            if (maxBytes == Long.MAX_VALUE || held() + 2 * segmentBytes <= maxBytes) {
                preallocator.request();
            }
        }
        try {
            for (long[] d : batch.dataOffsets()) {
                StreamIndex index = indexes.computeIfAbsent(d[0], id -> new StreamIndex(chunks));
                index.add(d[1], at + d[2], (int) d[3]);
                quiet.written(index);
                activeIndex.add(d[0], d[1], at + d[2], (int) d[3]);
            }
            for (Mutation m : commit.apply()) {
                if (!(m instanceof Mutation.AppendMessages)) {
                    applyOther(m); // a trim reads its index's chunks
                    freedSinceCheckpoint |= m instanceof Mutation.DropStream || m instanceof Mutation.TrimMessages;
                }
            }
        } catch (InternalError e) {
            // A fault reading the chunk file's mapping (the disk failed a page-in of a chunk being
            // brought back or trimmed): the batch is in the log, its indexes are not all updated.
            // A restart rebuilds them.
            throw StoreException.outcomeUnknown("reading the log's index chunk file failed: " + e.getMessage(), e);
        }
        return CommitResult.COMMITTED;
    }

    /** Whether {@code commit} adds data (messages, or a stream new to the log): what a full log refuses. */
    private boolean addsData(Commit commit) {
        for (Mutation m : commit.apply()) {
            if (m instanceof Mutation.AppendMessages
                    || m instanceof Mutation.PutStream p
                            && state.stream(p.record().id()) == null) {
                return true;
            }
        }
        return false;
    }

    /**
     * Refuses a write of {@code bytes} that adds data once the log is at {@link #maxBytes}. Deletes,
     * trims and closes still go through, so that room can be made. Once full, the log stays full
     * until a tenth of the cap is free again: otherwise the last bytes would go to whichever small
     * write comes first, and every API would not answer "full" alike (a session entry slipping in
     * where a response's record did not). Space comes back when a checkpoint deletes whole segments,
     * which at the usual cadence waits for {@link #checkpointBytes} of new log, which a full log
     * never writes: so if streams were deleted or trimmed since the last checkpoint, a full log
     * rolls and checkpoints first.
     */
    private void refuseIfFull(int bytes) throws StoreException {
        full = overCap(bytes);
        if (full && freedSinceCheckpoint) {
            if (active.size() > 0) {
                nextSegment(true);
            } else {
                checkpointAt(active.base);
            }
            heldBytes = held();
            full = overCap(bytes);
        }
        if (full) {
            throw new StoreException(
                    "the store is full: the log holds " + held() + " bytes and --max-store-size is " + maxBytes
                            + " (the space of deleted or trimmed data comes back once no stream holds older data"
                            + " in the same log segments)",
                    null,
                    true);
        }
    }

    private boolean overCap(int bytes) {
        long held = held();
        return held + bytes > maxBytes || (full && held > maxBytes - maxBytes / 10);
    }

    /**
     * Rolls to a new segment, and checkpoints at its start when {@link #checkpointBytes} of log
     * have been written since the last checkpoint, or now if {@code checkpointNow}.
     */
    private Segment nextSegment(boolean checkpointNow) throws StoreException {
        Segment s;
        try {
            s = roll();
        } catch (IOException e) {
            if (rollFlushFailed != null) {
                throw StoreException.needsRestart(
                        "flushing the full log segment " + active.file + " failed: " + e.getMessage(), e);
            }
            throw new StoreException(
                    "cannot start a new log segment in " + dir + " (the next write tries again): " + e.getMessage(),
                    e,
                    true);
        }
        if (checkpointNow || s.base - checkpointed >= checkpointBytes) {
            checkpointAt(s.base);
        }
        return s;
    }

    /**
     * A failed checkpoint fails only the commit it came with, before anything of it is written (an
     * {@link InternalError}: the disk failed a page-in of an index chunk the checkpoint reads);
     * the next roll tries again.
     */
    private void checkpointAt(long offset) throws StoreException {
        try {
            checkpoint(offset);
        } catch (IOException | InternalError e) {
            throw new StoreException("cannot write a checkpoint in " + dir + ": " + e.getMessage(), e, true);
        }
    }

    /** What the log takes on disk: its segments and their index files. Writer thread. */
    private long held() {
        long held = activeIndex.bytes();
        for (Segment seg : segments.values()) {
            held += seg.size() + seg.indexBytes();
        }
        return held;
    }

    /**
     * A log opened on a read-only disk takes writes once the disk is writable again (remounted),
     * without a restart: the active segment is reopened for writing, its torn tail (if any) cut.
     */
    private boolean becameWritable() throws StoreException {
        if (changedWhileReadOnly != null) {
            throw StoreException.needsRestart(changedWhileReadOnly, null);
        }
        if (!Files.isWritable(dir)) {
            return false;
        }
        Segment writable = null;
        try {
            if (lock == null) {
                lock = DirectoryLock.take(dir);
            }
            // With the lock held nobody else writes: is the log still the one this store read?
            if (!segmentFilesUnchanged()) {
                throw changedWhileReadOnly();
            }
            writable = Segment.open(dir, active.base, true);
            long end = tornTailAt >= 0 ? tornTailAt : active.size();
            long dirtyEnd = writable.dirtyEnd(end);
            if (writtenPast(writable, end, dirtyEnd)) {
                throw changedWhileReadOnly();
            }
            if (dirtyEnd > end) {
                LOG.log(System.Logger.Level.WARNING, "cutting the unfinished batch off the end of " + writable.file);
                writable.clearFrom(end, dirtyEnd);
            } else {
                writable.endAt(end);
            }
            writable.flushRecovered(); // what a crash left in the page cache, as at an open (LogRecovery)
            Segment readOnlyActive = active;
            segments.put(writable.base, writable);
            active = writable;
            try {
                readOnlyActive.close(); // a read racing this one fails and is retried by its client
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "closing the read-only view of " + readOnlyActive.file + ": " + e);
            }
        } catch (IOException e) {
            throw new StoreException("the log became writable but reopening it failed: " + e.getMessage(), e, true);
        } finally {
            if (writable != null && writable != active) {
                try {
                    writable.close();
                } catch (IOException e) {
                    // not taken into use: nothing more to do with it
                }
            }
        }
        LOG.log(System.Logger.Level.INFO, dir + " is writable again: taking writes");
        readOnly = null;
        tornTailAt = -1;
        return true;
    }

    /** Whether the log's segment files are still the ones this read-only store recovered. */
    private boolean segmentFilesUnchanged() throws IOException {
        return LogDirectory.segmentBases(dir).equals(List.copyOf(segments.keySet()));
    }

    /**
     * Whether the active segment was cut short, or something was written to it past its data ({@code end}), since this
     * read-only store recovered it. Nothing past the data is no change (another server may have
     * cut the torn tail this store saw, and written nothing). Bytes past it are a change unless
     * they are that torn tail: the same extent, and no intact batch where the data ends (another
     * server's batch of the same length, written after cutting it, would be one).
     */
    private boolean writtenPast(Segment writable, long end, long dirtyEnd) throws IOException {
        if (writable.size() < end) {
            return true; // cut short since: data this store indexed is gone
        }
        if (dirtyEnd == end) {
            return false;
        }
        return tornTailAt < 0 || dirtyEnd != tornTailEnd || LogRecovery.intactPayloadAt(writable, end) != null;
    }

    /** Refuses writes until a restart: the log changed on disk while this store had it read-only. */
    private StoreException changedWhileReadOnly() {
        changedWhileReadOnly = dir + " changed on disk while this server had it read-only (another server wrote"
                + " to it?): it takes no writes until it restarts and reads the log again";
        LOG.log(System.Logger.Level.ERROR, changedWhileReadOnly);
        lock.close(); // the server that is to restart need not hold the directory meanwhile
        lock = null;
        return StoreException.needsRestart(changedWhileReadOnly, null);
    }

    private Segment roll() throws IOException {
        // The full segment is made durable before the next one exists. Otherwise a power loss
        // could keep a later segment's pages (the kernel writes pages back in any order) and lose
        // this one's unsynced tail: a gap that replay cannot tell from damage. So damage, or a
        // gap, before the last segment is never a torn write, and start-up refuses it. Its zero
        // tail (if it was preallocated) is cut first, so only the last segment ever has one.
        try {
            active.seal();
        } catch (IOException e) {
            rollFlushFailed = e;
            throw e;
        }
        rollPending = true;
        activeIndex.finish();
        active.indexBytes(activeIndex.bytes());
        // Past the flush, a failure (no file descriptor left, a full directory) changes nothing
        // the log serves, and the next commit rolls again. What a failed attempt made of the next
        // segment holds no data (nothing is appended to it before this returns), so it goes first:
        // reopened, a spare renamed into place would have its zeros taken for data.
        long base = active.end();
        Segment.removeUnused(dir, base);
        Segment next = preallocator.take(dir, base);
        if (next == null) {
            next = Segment.open(dir, base);
        }
        try {
            LogDirectory.sync(dir); // the new file's name (and the index file's) must survive a power loss too
        } catch (IOException e) {
            try {
                next.close();
            } catch (IOException close) {
                e.addSuppressed(close);
            }
            throw e;
        }
        spareAsked = false;
        rollPending = false;
        segments.put(next.base, next);
        active = next;
        activeIndex = SegmentIndex.Writer.open(dir, next.base);
        return active;
    }

    /**
     * Writer thread, at a segment boundary (every segment before {@code offset} was flushed as it
     * was rolled): writes a checkpoint of everything up to it, then deletes the segments wholly before both the
     * checkpoint and the oldest message any stream still holds (retention, deletes, TTL).
     */
    private void checkpoint(long offset) throws IOException {
        long started = System.nanoTime();
        long bytes = Checkpoint.write(dir, offset, state.contents(), indexes);
        LogDirectory.sync(dir);
        checkpointed = offset;
        freedSinceCheckpoint = false;
        checkpoints++;
        LOG.log(
                System.Logger.Level.INFO,
                () -> String.format(
                        java.util.Locale.ROOT,
                        "checkpoint at log offset %d: %,d bytes in %.1f ms",
                        offset,
                        bytes,
                        (System.nanoTime() - started) / 1e6));
        long keepFrom = offset;
        for (StreamIndex index : indexes.values()) {
            keepFrom = Math.min(keepFrom, index.lowestLocation());
        }
        boolean deleted = false;
        for (Segment s : List.copyOf(segments.values())) {
            if (s != active && s.end() <= keepFrom) {
                segments.remove(s.base);
                s.close();
                Files.delete(s.file);
                Files.deleteIfExists(SegmentIndex.file(dir, s.base));
                deleted = true;
            }
        }
        if (deleted) {
            LogDirectory.sync(dir);
        }
    }

    private void applyOther(Mutation m) {
        LogRecovery.applyOther(state, indexes, m);
    }

    /**
     * Parks the index chunks of streams gone quiet ({@link QuietStreams}), and counts what the log
     * holds for {@link #diskBytes} again once a second.
     */
    @Override
    public boolean maintain() {
        long now = System.nanoTime();
        if (now - heldCountedAt >= HELD_RECOUNT_NANOS) {
            heldCountedAt = now;
            heldBytes = held();
        }
        return quiet.tick(now);
    }

    /** Segments and their index files, as {@code --max-store-size} counts them; recounted once a second. */
    @Override
    public long diskBytes() {
        return heldBytes;
    }

    /** The log's segment files, the one being written included. Any thread. */
    public int segmentCount() {
        return segments.size();
    }

    /**
     * The length of the index chunk file ({@link ChunkFile}), where index entries leave the heap
     * (full chunks, and the parked ones of quiet streams): the most it has held since the log was
     * opened, as freed slots are reused, not given back. Not counted by {@code --max-store-size}:
     * it is a cache, rebuilt at every open. Any thread.
     */
    public long indexFileBytes() {
        ChunkFile file = chunks;
        return file == null ? 0 : (long) file.pages() * ChunkFile.PAGE_BYTES;
    }

    @Override
    public void sync() throws StoreException {
        // Only the active segment: a full one was flushed before the next was created (roll).
        try {
            if (rollFlushFailed != null) {
                throw rollFlushFailed;
            }
            active.force();
        } catch (IOException e) {
            throw new StoreException("flushing the log failed: " + e.getMessage(), e, true);
        }
    }

    /**
     * Fault injection for tests: one state a power loss could leave. Every segment is cut back to
     * what its last {@code fdatasync} covered. Every file of the log whose name no directory sync
     * covered is gone, and so is the whole log when its
     * own entry in the data directory was never synced. The model's limits: a deletion is
     * durable at once (nothing deleted comes back), a file renamed over a synced name is kept, an
     * index file's contents are kept whole, and the lock file is left alone unless the whole log goes. Only files change;
     * reopen the log to see the result. Needs {@link LogDirectory#MODEL_DIRECTORY_ENTRIES}.
     */
    void dropUnsynced() throws IOException {
        for (Segment s : segments.values()) {
            s.dropUnsynced();
        }
        LogDirectory.dropUnsyncedNames(dir, preallocator::close);
    }

    @Override
    public List<StoredMessage> read(long streamId, long from, long to, int maxBytes) throws StoreException {
        return reader.read(streamId, from, to, maxBytes);
    }

    @Override
    public void scan(long streamId, long from, long to, int maxBytes, RowSink sink) throws StoreException {
        reader.scan(streamId, from, to, maxBytes, sink);
    }

    @Override
    public boolean resident(long streamId, long from, long to, int maxBytes) {
        return reader.resident(streamId, from, to, maxBytes);
    }

    @Override
    public ReadExtent extent(long streamId, long from, long to, int maxBytes) {
        StreamIndex index = indexes.get(streamId);
        try {
            return index == null ? null : index.extent(from, to, maxBytes);
        } catch (InternalError e) { // a disk fault under the chunk file: "cannot tell", and the scan reports it
            return null;
        }
    }

    @Override
    public String describe() {
        return dir.toString();
    }

    @Override
    public String kind() {
        return "log";
    }

    /** Tests: the active segment's file. */
    Path activeFile() {
        return active.file;
    }

    /** Checkpoints written since open (benchmarks). */
    long checkpoints() {
        return checkpoints;
    }

    /** Tests: waits until the spare segment asked for is written. */
    void awaitSpare() throws InterruptedException {
        preallocator.awaitMaking();
    }

    @Override
    public void close() {
        try {
            preallocator.close();
            if (activeIndex != null) {
                activeIndex.abandon(); // rewritten from the segment at the next open
            }
            for (Segment s : segments.values()) {
                try {
                    s.close();
                } catch (IOException e) {
                    // closing: nothing left to do with it
                }
            }
        } finally {
            if (chunks != null) {
                chunks.close();
            }
            if (lock != null) {
                lock.close();
                lock = null;
            }
        }
    }
}
