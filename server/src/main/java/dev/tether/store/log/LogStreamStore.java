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
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.Stream;

/**
 * The log store: every commit is one batch appended to an append-only log of segment files
 * ({@link LogFormat}), holding each message's bytes as sent and the metadata that changed with
 * them (stream records, producer state), so data and producer state are atomic without a second
 * store. {@link #sync} is one {@code fdatasync} for every batch written since the last one (group
 * commit). The state needed to serve — stream records, producers, and a per-stream index of where
 * each message's bytes are ({@link StreamIndex}) — lives in memory and is rebuilt at open by
 * replaying the log; a torn batch at the tail (a crash mid-write, or writes the page cache never
 * flushed) fails its CRC and is cut off.
 *
 * <p>Every {@link #CHECKPOINT_BYTES} of log, at a segment boundary, a {@link Checkpoint} of the
 * metadata is written, so recovery replays only the log after it, and the segments before it
 * that hold no message any stream still has (trimmed, deleted, expired) are deleted. Each sealed
 * segment has an index file of its messages ({@link SegmentIndex}), from which recovery rebuilds
 * the indexes of the segments before the checkpoint. Reads: {@link LogReader}.
 * Segments after the first are zero-filled ahead of time ({@link Preallocator}), which makes each
 * group commit's {@code fdatasync} cheaper ({@code --log-preallocate off} turns it off). Not yet: shards.
 *
 * <p>Thread-safety: {@link #commit} from one writer thread; {@link #sync} from one syncing thread
 * alongside it; {@link #read} from any thread.
 */
public final class LogStreamStore implements StreamStore {
    private static final System.Logger LOG = System.getLogger(LogStreamStore.class.getName());
    static final long SEGMENT_BYTES = 64L << 20;
    static final long CHECKPOINT_BYTES = 256L << 20;

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
    /** Where batches are encoded ({@link LogFormat#encode}). Writer thread. */
    private ByteBuffer encodeBuffer = ByteBuffer.allocateDirect(64 << 10);
    /**
     * An fdatasync at a roll failed: no later {@link #sync} may report success, since the kernel
     * may have dropped those pages and a later fsync still succeed (fsyncgate).
     */
    private volatile IOException rollFlushFailed;

    private volatile Segment active;
    /** The index file of {@link #active}, written as it fills. Writer thread. */
    private SegmentIndex.Writer activeIndex;
    /** Makes the next segment, zero-filled, while this one fills ({@link Segment}). */
    private final Preallocator preallocator;
    /** The spare for the segment after {@link #active} was asked for. Writer thread. */
    private boolean spareAsked;
    /** Each segment after the first is zero-filled ahead ({@code --log-preallocate}). */
    private final boolean preallocate;

    /** The most bytes the segments may hold ({@code --max-store-size}), or {@link Long#MAX_VALUE}. */
    private final long maxBytes;
    /** A commit was refused for {@link #maxBytes}, and not enough has been freed since. Writer thread. */
    private boolean full;
    /** Why the log takes no writes (a read-only disk), or null. Writer thread after open. */
    private String readOnly;
    /** On a read-only disk: where the active segment's torn tail starts, cut once writable; else -1. */
    private long tornTailAt = -1;

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
     * @param maxBytes the most bytes the segments may hold ({@code --max-store-size}), or null
     */
    public static LogStreamStore open(Path dataDir, Long maxBytes) throws StoreException {
        return open(dataDir, maxBytes, true);
    }

    /**
     * @param maxBytes the most bytes the segments may hold ({@code --max-store-size}), or null
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
    private static LogStreamStore open(
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
                Files.createDirectories(store.dir);
            } else {
                LOG.log(System.Logger.Level.WARNING, readOnly);
            }
            store.recover();
            return store;
        } catch (IOException e) {
            store.close();
            throw new StoreException("cannot open the log in " + store.dir + ": " + e.getMessage(), e, true);
        }
    }

    private void recover() throws IOException, StoreException {
        long started = System.nanoTime();
        if (readOnly == null) {
            preallocator.discardLeftover();
        }
        List<Long> bases;
        List<String> indexFiles;
        try (Stream<Path> files = Files.list(dir)) {
            List<String> names = files.map(p -> p.getFileName().toString()).toList();
            bases = names.stream()
                    .filter(n -> n.matches("[0-9]{20}\\.seg"))
                    .map(n -> Long.parseLong(n.substring(0, 20)))
                    .sorted()
                    .toList();
            indexFiles = names.stream().filter(SegmentIndex::isIndexFile).toList();
        }
        if (readOnly == null) {
            for (String name : indexFiles) { // unfinished, or left by a segment retention deleted
                if (name.endsWith(".tmp") || !bases.contains(Long.parseLong(name.substring(0, 20)))) {
                    Files.delete(dir.resolve(name));
                }
            }
        }
        Checkpoint.Loaded checkpoint = checkpoint(bases);
        if (checkpoint != null) {
            state.restore(checkpoint.contents());
            if (checkpoint.indexes() != null) {
                indexes.putAll(checkpoint.indexes());
            }
            checkpointed = checkpoint.offset();
        }
        long expected = checkpoint != null ? checkpoint.offset() : 0;
        for (int i = 0; i < bases.size(); i++) {
            if (i == 0 ? bases.get(0) > expected : bases.get(i) != expected) {
                throw new StoreException(
                        dir + " is missing log data: the next segment should start at offset " + expected
                                + " but the first one there starts at " + bases.get(i) + " (a segment deleted or"
                                + " not copied?): restore the directory from a backup",
                        null,
                        false);
            }
            Segment s = Segment.open(dir, bases.get(i), readOnly == null);
            segments.put(s.base, s);
            expected = s.end();
        }
        if (checkpoint != null && checkpoint.kept() != null) {
            rebuildIndexes(checkpoint.kept());
        }
        long indexed = System.nanoTime();
        long replayed = 0;
        for (Segment s : segments.values()) {
            if (s.end() > checkpointed) { // what the checkpoint holds is not replayed again
                boolean last = s == segments.lastEntry().getValue();
                // A sealed segment's index file is written again only if a crash (or a read-only disk) lost it.
                SegmentIndex.Writer index = last || !Files.exists(SegmentIndex.file(dir, s.base))
                        ? SegmentIndex.Writer.open(dir, s.base)
                        : SegmentIndex.Writer.NONE;
                replay(s, last, Math.max(0, checkpointed - s.base), index);
                replayed += s.size() - Math.max(0, checkpointed - s.base);
                if (last) {
                    activeIndex = index;
                } else {
                    index.finish();
                }
            }
        }
        if (segments.isEmpty()) {
            if (readOnly != null) {
                throw new StoreException(dir + " holds no log segment and is not writable", null, true);
            }
            Segment first = Segment.open(dir, checkpointed);
            segments.put(first.base, first);
            syncDirectory();
            activeIndex = SegmentIndex.Writer.open(dir, first.base);
        }
        active = segments.lastEntry().getValue();
        if (activeIndex == null) { // the last segment starts at the checkpoint and holds nothing yet
            activeIndex = SegmentIndex.Writer.open(dir, active.base);
        }
        if (!segments.isEmpty() && (checkpointed > 0 || active.size() > 0)) {
            long done = System.nanoTime();
            long messages =
                    indexes.values().stream().mapToLong(StreamIndex::size).sum();
            long before = segments.headMap(checkpointed).size();
            long replayedBytes = replayed;
            LOG.log(
                    System.Logger.Level.INFO,
                    () -> String.format(
                            java.util.Locale.ROOT,
                            "log opened in %.0f ms: %,d messages kept; the indexes of %d segments before the checkpoint"
                                    + " in %.0f ms, %,d bytes of log after it replayed in %.0f ms",
                            (done - started) / 1e6,
                            messages,
                            before,
                            (indexed - started) / 1e6,
                            replayedBytes,
                            (done - indexed) / 1e6));
        }
    }

    /**
     * Rebuilds the indexes of the segments before the checkpoint from their index files, keeping
     * what the checkpoint says each stream kept. A segment whose index file is missing or damaged
     * is scanned instead (and its file written again); if the total still disagrees with the
     * checkpoint, every one is scanned.
     */
    private void rebuildIndexes(Map<Long, Checkpoint.Kept> kept) throws IOException, StoreException {
        for (boolean scanAll : new boolean[] {false, true}) {
            indexes.clear();
            SegmentIndex.Entries keep = (streamId, position, location, length) -> {
                Checkpoint.Kept k = kept.get(streamId);
                if (k != null && position >= k.firstPosition() && location < checkpointed) {
                    indexes.computeIfAbsent(streamId, id -> new StreamIndex()).add(position, location, length);
                }
            };
            for (Segment s : segments.headMap(checkpointed).values()) {
                String unusable = scanAll ? "checking every segment" : SegmentIndex.read(dir, s.base, keep);
                if (unusable != null) {
                    // Scanned once, written down for the next open (when the disk takes writes).
                    SegmentIndex.Writer rewrite = !scanAll && readOnly == null
                            ? SegmentIndex.Writer.open(dir, s.base)
                            : SegmentIndex.Writer.NONE;
                    if (!scanAll) {
                        LOG.log(System.Logger.Level.INFO, "scanning " + s.file + " for its index: " + unusable);
                    }
                    scanAppends(s, (streamId, position, location, length) -> {
                        keep.entry(streamId, position, location, length);
                        rewrite.add(streamId, position, location, length);
                    });
                    rewrite.finish();
                }
            }
            String disagreement = null;
            for (Map.Entry<Long, Checkpoint.Kept> e : kept.entrySet()) {
                StreamIndex index = indexes.get(e.getKey());
                int found = index == null ? 0 : index.size();
                if (found != e.getValue().count()) {
                    disagreement = "stream " + e.getKey() + " kept "
                            + e.getValue().count() + " messages at the" + " checkpoint, the log before it has " + found;
                    break;
                }
            }
            if (disagreement == null) {
                return;
            }
            if (scanAll) {
                throw new StoreException(
                        dir + ": the log before the checkpoint does not hold what the checkpoint says (" + disagreement
                                + "): restore the directory from a backup",
                        null,
                        false);
            }
            LOG.log(
                    System.Logger.Level.WARNING,
                    "the index files disagree with the checkpoint (" + disagreement + "): scanning every segment"
                            + " before it instead");
        }
    }

    /** The checkpoint, or null; a damaged one is ignored when the whole log is still there to replay. */
    private Checkpoint.Loaded checkpoint(List<Long> bases) throws IOException, StoreException {
        try {
            return Checkpoint.read(dir);
        } catch (Checkpoint.Damaged e) {
            if (!bases.isEmpty() && bases.get(0) != 0) {
                throw new StoreException(
                        e.getMessage() + ", and the log before it has been deleted: restore " + dir + " from a backup",
                        e,
                        false);
            }
            LOG.log(System.Logger.Level.WARNING, e.getMessage() + "; replaying the whole log instead");
            return null;
        }
    }

    /**
     * Applies every intact batch of {@code s}, writing its messages to {@code index}. The last
     * segment's data ends at the first batch that does not check out: where its zero-filled tail
     * starts (a preallocated segment), or at a torn batch, which is cleared.
     */
    private void replay(Segment s, boolean last, long from, SegmentIndex.Writer index)
            throws IOException, StoreException {
        long at = batches(s, from, (batch, payloadAt) -> apply(batch, payloadAt, index));
        if (at == s.size()) {
            return;
        }
        if (!last) {
            throw damaged(s, at);
        }
        long dirtyEnd = s.dirtyEnd(at);
        if (dirtyEnd == at) {
            s.endAt(at); // the zero tail of a preallocated segment
            return;
        }
        if (readOnly != null) {
            tornTailAt = at;
            s.endAt(at);
            LOG.log(
                    System.Logger.Level.WARNING,
                    "ignoring " + (dirtyEnd - at) + " bytes of an unfinished batch at the end of " + s.file
                            + " (a crash mid-write); they are cut off once the disk is writable");
            return;
        }
        LOG.log(
                System.Logger.Level.WARNING,
                "cutting " + (dirtyEnd - at) + " bytes of an unfinished batch off the end of " + s.file
                        + " (a crash mid-write; nothing in it was acknowledged)");
        s.clearFrom(at, dirtyEnd);
    }

    /** Hands every message of {@code s}, a segment before the last, to {@code into}; refuses damage. */
    private void scanAppends(Segment s, SegmentIndex.Entries into) throws IOException, StoreException {
        long end = batches(s, 0, (batch, payloadAt) -> {
            for (LogFormat.Decoded d : batch) {
                if (d instanceof LogFormat.Decoded.Append a) {
                    into.entry(a.streamId(), a.position(), payloadAt + a.payloadOffset(), a.length());
                }
            }
        });
        if (end != s.size()) {
            throw damaged(s, end);
        }
    }

    private StoreException damaged(Segment s, long at) {
        return new StoreException(
                s.file + " is damaged at offset " + at + ", before the log's last segment: this is not"
                        + " a torn write (restore it from a backup, or move it and later segments"
                        + " away to start from what precedes it)",
                null,
                false);
    }

    /** One intact batch of a segment, decoded, and the log offset its payload starts at. */
    private interface Batch {
        void accept(List<LogFormat.Decoded> batch, long payloadAt);
    }

    /**
     * Hands each intact batch of {@code s} from {@code from} on to {@code visit}, in order.
     *
     * @return where the intact batches end: the segment's size when all of it checks out
     */
    private static long batches(Segment s, long from, Batch visit) throws IOException {
        long at = from;
        ByteBuffer header = ByteBuffer.allocate(LogFormat.HEADER);
        while (at < s.size()) {
            header.clear();
            s.channel.read(header, at);
            header.flip();
            int length = LogFormat.payloadLength(header, s.size() - at);
            ByteBuffer payload = length < 0 ? null : ByteBuffer.wrap(s.read(s.base + at + LogFormat.HEADER, length));
            if (payload == null || !LogFormat.intact(header, payload)) {
                return at;
            }
            visit.accept(LogFormat.decode(payload), s.base + at + LogFormat.HEADER);
            at += LogFormat.HEADER + length;
        }
        return at;
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
        LogFormat.Encoded batch = LogFormat.encode(commit.apply(), encodeBuffer);
        if (batch.bytes().isDirect() && batch.bytes().capacity() > encodeBuffer.capacity()) {
            encodeBuffer = batch.bytes(); // grown: keep the larger one for the next batches
        }
        if (maxBytes != Long.MAX_VALUE) {
            long held = held();
            // Once full, the log stays full until a tenth of the cap is free again: otherwise the
            // last bytes would go to whichever small write comes first, and every API would not
            // answer "full" alike (a session entry slipping in where a response's record did not).
            full = held + batch.bytes().remaining() > maxBytes || (full && held > maxBytes - maxBytes / 10);
            if (full) {
                throw new StoreException(
                        "the store is full: the log holds " + held + " bytes and --max-store-size is " + maxBytes
                                + " (space of deleted or trimmed data is reclaimed at checkpoints)",
                        null,
                        true);
            }
        }
        Segment s = active;
        try {
            if (s.size() > 0 && s.size() + batch.bytes().remaining() > segmentBytes) {
                s = roll();
                if (s.base - checkpointed >= checkpointBytes) {
                    checkpoint(s.base);
                }
            }
        } catch (IOException e) {
            throw new StoreException("cannot start a new log segment in " + dir + ": " + e.getMessage(), e, true);
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
        for (long[] d : batch.dataOffsets()) {
            indexes.computeIfAbsent(d[0], id -> new StreamIndex()).add(d[1], at + d[2], (int) d[3]);
            activeIndex.add(d[0], d[1], at + d[2], (int) d[3]);
        }
        for (Mutation m : commit.apply()) {
            if (!(m instanceof Mutation.AppendMessages)) {
                applyOther(m);
            }
        }
        return CommitResult.COMMITTED;
    }

    /** The bytes of data the segments hold. */
    private long held() {
        long held = 0;
        for (Segment seg : segments.values()) {
            held += seg.size();
        }
        return held;
    }

    /**
     * A log opened on a read-only disk takes writes once the disk is writable again (remounted),
     * without a restart: the active segment is reopened for writing, its torn tail (if any) cut.
     */
    private boolean becameWritable() throws StoreException {
        if (!Files.isWritable(dir)) {
            return false;
        }
        try {
            Segment writable = Segment.open(dir, active.base, true);
            long end = tornTailAt >= 0 ? tornTailAt : active.size();
            long dirtyEnd = writable.dirtyEnd(end);
            if (dirtyEnd > end) {
                LOG.log(System.Logger.Level.WARNING, "cutting the unfinished batch off the end of " + writable.file);
                writable.clearFrom(end, dirtyEnd);
            } else {
                writable.endAt(end);
            }
            Segment readOnlyActive = active;
            segments.put(writable.base, writable);
            active = writable;
            readOnlyActive.close(); // a read racing this one fails and is retried by its client
        } catch (IOException e) {
            throw new StoreException("the log became writable but reopening it failed: " + e.getMessage(), e, true);
        }
        LOG.log(System.Logger.Level.INFO, dir + " is writable again: taking writes");
        readOnly = null;
        tornTailAt = -1;
        return true;
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
        activeIndex.finish();
        Segment next = preallocator.take(dir, active.end());
        if (next == null) {
            next = Segment.open(dir, active.end());
        }
        spareAsked = false;
        segments.put(next.base, next);
        syncDirectory(); // the new file's name (and the index file's) must survive a power loss too
        active = next;
        activeIndex = SegmentIndex.Writer.open(dir, next.base);
        return next;
    }

    /**
     * Writer thread, at a segment boundary (every segment before {@code offset} was flushed as it
     * was rolled): writes a checkpoint of everything up to it, then deletes the segments wholly before both the
     * checkpoint and the oldest message any stream still holds (retention, deletes, TTL).
     */
    private void checkpoint(long offset) throws IOException {
        long started = System.nanoTime();
        long bytes = Checkpoint.write(dir, offset, state.contents(), indexes);
        syncDirectory();
        checkpointed = offset;
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
            syncDirectory();
        }
    }

    private void syncDirectory() throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    /** Replay: applies a decoded batch whose payload starts at log offset {@code payloadAt}. */
    private void apply(List<LogFormat.Decoded> batch, long payloadAt, SegmentIndex.Writer index) {
        for (LogFormat.Decoded d : batch) {
            switch (d) {
                case LogFormat.Decoded.Append a -> {
                    long location = payloadAt + a.payloadOffset();
                    indexes.computeIfAbsent(a.streamId(), id -> new StreamIndex())
                            .add(a.position(), location, a.length());
                    index.add(a.streamId(), a.position(), location, a.length());
                }
                case LogFormat.Decoded.Other o -> applyOther(o.mutation());
            }
        }
    }

    private void applyOther(Mutation m) {
        state.apply(m);
        switch (m) {
            case Mutation.TrimMessages t -> {
                StreamIndex index = indexes.get(t.streamId());
                if (index != null) {
                    index.trim(t.beforePosition());
                }
            }
            case Mutation.DropStream d -> indexes.remove(d.streamId());
            case Mutation.PutStream p -> {}
            case Mutation.PutProducer p -> {}
            case Mutation.AppendMessages a -> throw new IllegalStateException("appends are indexed, not applied");
        }
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
     * Fault injection for tests: what a power loss would leave — every segment cut back to what
     * its last {@code fdatasync} covered. Only files change; reopen the log to see the result.
     */
    void dropUnsynced() throws IOException {
        for (Segment s : segments.values()) {
            s.dropUnsynced();
        }
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
    public ReadExtent extent(long streamId, long from, long to, int maxBytes) {
        StreamIndex index = indexes.get(streamId);
        return index == null ? null : index.extent(from, to, maxBytes);
    }

    @Override
    public boolean durable() {
        return true;
    }

    @Override
    public String describe() {
        return dir.toString();
    }

    @Override
    public String kind() {
        return "log";
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
    }
}
