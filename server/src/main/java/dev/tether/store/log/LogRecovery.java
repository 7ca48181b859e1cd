package dev.tether.store.log;

import dev.tether.store.Mutation;
import dev.tether.store.StoreException;
import dev.tether.store.StoreState;
import dev.tether.store.StreamRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;

/**
 * Opens a log directory into a {@link LogStreamStore}'s memory: reads the checkpoint (metadata and
 * what each stream kept), rebuilds the indexes of the segments before it from their index files
 * (scanning a segment whose file is missing or damaged), and replays the batches after it. A torn
 * batch at the end of the last segment is cut off (on a read-only disk, ignored until writable);
 * damage anywhere before the last segment, or a missing segment, is refused. One use per open.
 */
final class LogRecovery {
    private static final System.Logger LOG = System.getLogger(LogRecovery.class.getName());

    private final Path dir;
    /** Why the log takes no writes (a read-only disk), or null. */
    private final String readOnly;

    private final NavigableMap<Long, Segment> segments;
    private final StoreState state;
    private final Map<Long, StreamIndex> indexes;
    /** Where the indexes' full and parked chunks go, or null (on the heap). */
    private final ChunkFile chunks;
    /** The log offset the checkpoint covers up to (0: none). */
    private long checkpointed;
    /** The index file of the last segment, written as replay and then the writer fill it. */
    private SegmentIndex.Writer activeIndex;
    /** On a read-only disk: where the last segment's torn tail starts; else -1. */
    private long tornTailAt = -1;
    /** On a read-only disk: where the last segment's torn tail ends (its last byte that is not zero). */
    private long tornTailEnd = -1;

    /**
     * What the store takes over after recovery; its last segment is the active one.
     *
     * @param checkpointed the log offset the checkpoint covers up to (0: none)
     * @param activeIndex the index file of the last segment, open for its next messages
     * @param tornTailAt on a read-only disk, where the last segment's torn tail starts; else -1
     * @param tornTailEnd on a read-only disk, where that torn tail ends; else -1
     */
    record Recovered(long checkpointed, SegmentIndex.Writer activeIndex, long tornTailAt, long tornTailEnd) {}

    private LogRecovery(
            Path dir,
            String readOnly,
            NavigableMap<Long, Segment> segments,
            StoreState state,
            Map<Long, StreamIndex> indexes,
            ChunkFile chunks) {
        this.dir = dir;
        this.readOnly = readOnly;
        this.segments = segments;
        this.state = state;
        this.indexes = indexes;
        this.chunks = chunks;
    }

    /**
     * Opens the segments of {@code dir} into {@code segments} (creating the first when there is
     * none) and fills {@code state} and {@code indexes} from the checkpoint and the log.
     *
     * @param readOnly why the directory takes no writes, or null when it does
     * @param chunks where the indexes' full and parked chunks go, or null to keep them on the heap
     */
    static Recovered run(
            Path dir,
            String readOnly,
            NavigableMap<Long, Segment> segments,
            StoreState state,
            Map<Long, StreamIndex> indexes,
            ChunkFile chunks)
            throws IOException, StoreException {
        return new LogRecovery(dir, readOnly, segments, state, indexes, chunks).recover();
    }

    private Recovered recover() throws IOException, StoreException {
        long started = System.nanoTime();
        Set<String> names = LogDirectory.names(dir);
        List<Long> bases = LogDirectory.segmentBases(names);
        List<String> indexFiles =
                names.stream().filter(SegmentIndex::isIndexFile).toList();
        if (readOnly == null) {
            Set<Long> kept = new HashSet<>(bases);
            for (String name : indexFiles) { // unfinished, or left by a segment retention deleted
                if (name.endsWith(".tmp") || !kept.contains(Long.parseLong(name.substring(0, 20)))) {
                    Files.delete(dir.resolve(name));
                }
            }
        }
        Checkpoint.Loaded checkpoint = checkpoint(bases);
        if (checkpoint != null) {
            state.restore(checkpoint.contents());
            if (checkpoint.indexes() != null) { // a first-version checkpoint's, read onto the heap
                checkpoint.indexes().forEach((id, index) -> indexes.put(id, index.withChunksIn(chunks)));
            }
            checkpointed = checkpoint.offset();
        }
        openSegments(bases, checkpointed);
        if (checkpoint != null && checkpoint.kept() != null) {
            rebuildIndexes(checkpoint.kept());
        }
        long indexed = System.nanoTime();
        long replayed = replayAfterCheckpoint();
        long parking = System.nanoTime();
        // Which streams will be written again is not known: every filling chunk goes to the file,
        // and the first write to a stream brings its chunk back.
        int parkedChunks = 0;
        for (StreamIndex index : indexes.values()) {
            parkedChunks += index.park() ? 1 : 0;
        }
        long parkNanos = System.nanoTime() - parking;
        if (segments.isEmpty()) {
            if (readOnly != null) {
                throw new StoreException(dir + " holds no log segment and is not writable", null, true);
            }
            Segment first = Segment.open(dir, checkpointed); // its name is synced by the flush below
            segments.put(first.base, first);
            activeIndex = SegmentIndex.Writer.open(dir, first.base);
        }
        Segment active = segments.lastEntry().getValue();
        if (readOnly == null) {
            // What a killed process wrote and never flushed is still in the page cache, and was
            // just replayed like the rest: made durable before any of it is served, or a power
            // loss could take back what readers saw (and a producer's retry, acknowledged as a
            // duplicate of it). A read-only disk cannot be flushed; its log is flushed when it
            // becomes writable.
            active.flushRecovered();
        }
        if (activeIndex == null) { // the last segment starts at the checkpoint and holds nothing yet
            activeIndex = SegmentIndex.Writer.open(dir, active.base);
        }
        for (Segment s : segments.headMap(active.base).values()) { // what --max-store-size counts
            Path file = SegmentIndex.file(dir, s.base);
            s.indexBytes(Files.exists(file) ? Files.size(file) : 0);
        }
        if (checkpointed > 0 || active.size() > 0) {
            logOpened(started, indexed, parking, replayed, parkedChunks, parkNanos);
        }
        return new Recovered(checkpointed, activeIndex, tornTailAt, tornTailEnd);
    }

    /** Opens the segments at {@code bases}, which must follow each other from {@code expected} on. */
    private void openSegments(List<Long> bases, long expected) throws IOException, StoreException {
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
            if (i < bases.size() - 1) {
                s.sealedBefore();
            }
            segments.put(s.base, s);
            expected = s.end();
        }
        // A roll makes the next segment durable before it writes the checkpoint there.
        if (checkpointed > 0 && !segments.containsKey(checkpointed)) {
            throw new StoreException(
                    dir + " is missing log data: the checkpoint is at offset " + checkpointed
                            + " but no segment starts there ("
                            + (segments.isEmpty()
                                    ? "there is none"
                                    : "the log ends at "
                                            + segments.lastEntry().getValue().end())
                            + "; segments deleted or not copied?): restore"
                            + " the directory from a backup",
                    null,
                    false);
        }
    }

    /**
     * Replays the log after the checkpoint (what the checkpoint holds is not replayed again); the
     * last segment's index writer stays open as the active one.
     *
     * @return the bytes of log replayed
     */
    private long replayAfterCheckpoint() throws IOException, StoreException {
        long replayed = 0;
        for (Segment s : segments.values()) {
            if (s.end() <= checkpointed) {
                continue;
            }
            boolean last = s == segments.lastEntry().getValue();
            // A sealed segment's index file is written again only if a crash (or a read-only disk) lost it.
            SegmentIndex.Writer index = last || !Files.exists(SegmentIndex.file(dir, s.base))
                    ? SegmentIndex.Writer.open(dir, s.base)
                    : SegmentIndex.Writer.NONE;
            long from = Math.max(0, checkpointed - s.base);
            replay(s, last, from, index);
            replayed += s.size() - from;
            if (last) {
                activeIndex = index;
            } else {
                index.finish();
            }
        }
        return replayed;
    }

    /**
     * @param indexed  when the indexes before the checkpoint were rebuilt, and the replay began (nanoTime)
     * @param replayEnd when the replay ended
     * @param parkedChunks the streams whose filling index chunk was parked
     * @param parkNanos time spent parking them
     */
    private void logOpened(
            long started, long indexed, long replayEnd, long replayed, int parkedChunks, long parkNanos) {
        long done = System.nanoTime();
        long messages = indexes.values().stream().mapToLong(StreamIndex::size).sum();
        long before = segments.headMap(checkpointed).size();
        LOG.log(
                System.Logger.Level.INFO,
                () -> String.format(
                        java.util.Locale.ROOT,
                        "log opened in %.0f ms: %,d messages kept; the indexes of %d segments before the checkpoint"
                                + " in %.0f ms, %,d bytes of log after it replayed in %.0f ms, %,d streams' filling"
                                + " index chunks parked (of %,d) in %.0f ms",
                        (done - started) / 1e6,
                        messages,
                        before,
                        (indexed - started) / 1e6,
                        replayed,
                        (replayEnd - indexed) / 1e6,
                        parkedChunks,
                        indexes.size(),
                        parkNanos / 1e6));
    }

    /**
     * Rebuilds the indexes of the segments before the checkpoint from their index files, keeping
     * what the checkpoint says each stream kept. A segment whose index file is missing or damaged
     * is scanned instead (and its file written again); if the total still disagrees with the
     * checkpoint, every one is scanned.
     */
    private void rebuildIndexes(Map<Long, Checkpoint.Kept> kept) throws IOException, StoreException {
        for (boolean scanAll : new boolean[] {false, true}) {
            indexes.values().forEach(StreamIndex::release);
            indexes.clear();
            SegmentIndex.Entries keep = (streamId, position, location, length) -> {
                Checkpoint.Kept k = kept.get(streamId);
                if (k != null && position >= k.firstPosition() && location < checkpointed) {
                    indexes.computeIfAbsent(streamId, id -> new StreamIndex(chunks))
                            .add(position, location, length);
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
        if (!last || Files.exists(SegmentIndex.file(dir, s.base))) {
            // Damage, not a torn write: the segment was flushed whole before a later one was made,
            // or (the last, with its index file finished) sealed by a roll that then failed.
            throw damaged(s, at);
        }
        long dirtyEnd = s.dirtyEnd(at);
        if (dirtyEnd == at) {
            s.endAt(at); // the zero tail of a preallocated segment
            return;
        }
        if (readOnly != null) {
            tornTailAt = at;
            tornTailEnd = dirtyEnd;
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
                s.file + " is damaged at offset " + at + ", in a segment flushed whole before the crash: this"
                        + " is not a torn write (restore it from a backup, or move it and later segments"
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
        while (at < s.size()) {
            ByteBuffer payload = intactPayloadAt(s, at);
            if (payload == null) {
                return at;
            }
            visit.accept(LogFormat.decode(payload), s.base + at + LogFormat.HEADER);
            at += LogFormat.HEADER + payload.remaining();
        }
        return at;
    }

    /** The payload of the batch at offset {@code at} of {@code s} when it is intact (magic, length, CRC), else null. */
    static ByteBuffer intactPayloadAt(Segment s, long at) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(LogFormat.HEADER);
        s.channel.read(header, at);
        header.flip();
        int length = LogFormat.payloadLength(header, s.size() - at);
        if (length < 0) {
            return null;
        }
        ByteBuffer payload = ByteBuffer.wrap(s.read(s.base + at + LogFormat.HEADER, length));
        return LogFormat.intact(header, payload) ? payload : null;
    }

    /** Replay: applies a decoded batch whose payload starts at log offset {@code payloadAt}. */
    private void apply(List<LogFormat.Decoded> batch, long payloadAt, SegmentIndex.Writer index) {
        for (LogFormat.Decoded d : batch) {
            switch (d) {
                case LogFormat.Decoded.Append a -> {
                    long location = payloadAt + a.payloadOffset();
                    indexes.computeIfAbsent(a.streamId(), id -> new StreamIndex(chunks))
                            .add(a.position(), location, a.length());
                    index.add(a.streamId(), a.position(), location, a.length());
                }
                case LogFormat.Decoded.TailMoved t -> {
                    StreamRecord before = state.stream(t.streamId());
                    if (before == null) { // an intact batch is never written so: a bug, not damage
                        throw new IllegalStateException(
                                "a tail moved for stream " + t.streamId() + ", which the log has no record of");
                    }
                    applyOther(state, indexes, t.over(before));
                }
                case LogFormat.Decoded.Other o -> applyOther(state, indexes, o.mutation());
            }
        }
    }

    /** A mutation other than an append, applied to the state and the indexes (commit and replay). */
    static void applyOther(StoreState state, Map<Long, StreamIndex> indexes, Mutation m) {
        state.apply(m);
        switch (m) {
            case Mutation.TrimMessages t -> {
                StreamIndex index = indexes.get(t.streamId());
                if (index != null) {
                    index.trim(t.beforePosition());
                }
            }
            case Mutation.DropStream d -> {
                StreamIndex gone = indexes.remove(d.streamId());
                if (gone != null) {
                    gone.release(); // its chunks' slots in the file are reused
                }
            }
            case Mutation.PutStream p -> {}
            case Mutation.PutProducer p -> {}
            case Mutation.AppendMessages a -> throw new IllegalStateException("appends are indexed, not applied");
        }
    }
}
