package dev.tether.store.log;

import dev.tether.store.RowSink;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * Reads one stream's messages out of the log. Messages next to each other in the log (one
 * stream's appends in a batch, or a stream written alone) are read with one positional read per
 * run instead of one per message, so a catch-up of 4,096 small messages is a handful of system
 * calls. A run ends where the next message is in another segment or more than {@link #RUN_GAP}
 * bytes on.
 *
 * <p>A run is read into a reused direct buffer and each message handed on as a view of it
 * ({@link #scan}); {@link #read} copies each one out once. A heap buffer would cost a
 * megabyte-sized allocation per read (zeroed, and in G1 a humongous object) plus the JDK's copy
 * through its own temporary direct buffer.
 *
 * <p>Thread-safe: reads run on any thread, concurrently with the writer.
 */
final class LogReader {
    /** The most bytes of other data one run may read over between two of its messages. */
    static final int RUN_GAP = 4096;
    /** Span buffers kept for reuse, and the largest one kept: a bigger run gets a one-off buffer. */
    private static final int POOLED = 8;

    private static final int POOLED_BYTES = 2 << 20;

    private final NavigableMap<Long, Segment> segments;
    private final Map<Long, StreamIndex> indexes;
    private final ArrayBlockingQueue<ByteBuffer> spans = new ArrayBlockingQueue<>(POOLED);

    LogReader(NavigableMap<Long, Segment> segments, Map<Long, StreamIndex> indexes) {
        this.segments = segments;
        this.indexes = indexes;
    }

    /** See {@link dev.tether.store.StreamStore#read}: {@link #scan}, copying each message out. */
    List<StoredMessage> read(long streamId, long from, long to, int maxBytes) throws StoreException {
        List<StoredMessage> out = new ArrayList<>();
        scan(streamId, from, to, maxBytes, (position, bytes) -> {
            byte[] data = new byte[bytes.remaining()];
            bytes.get(data);
            out.add(new StoredMessage(position, data));
        });
        return out;
    }

    /** See {@link dev.tether.store.StreamStore#scan}. */
    void scan(long streamId, long from, long to, int maxBytes, RowSink sink) throws StoreException {
        StreamIndex index = indexes.get(streamId);
        if (index == null) {
            return;
        }
        List<StreamIndex.Entry> entries = index.range(from, to, maxBytes);
        try {
            int runStart = 0;
            while (runStart < entries.size()) {
                StreamIndex.Entry first = entries.get(runStart);
                Segment holder = holder(streamId, first);
                int runEnd = runStart + 1;
                while (runEnd < entries.size() && continues(entries.get(runEnd - 1), entries.get(runEnd), holder)) {
                    runEnd++;
                }
                readRun(holder, entries.subList(runStart, runEnd), sink);
                runStart = runEnd;
            }
        } catch (IOException e) {
            throw new StoreException("reading the log failed: " + e.getMessage(), e, true);
        }
    }

    /** The segment holding {@code e}'s bytes. */
    private Segment holder(long streamId, StreamIndex.Entry e) throws StoreException {
        Map.Entry<Long, Segment> holder = segments.floorEntry(e.location());
        if (holder == null || e.location() + e.length() > holder.getValue().end()) {
            throw new StoreException("stream " + streamId + " at " + e.position() + " has been deleted", null, false);
        }
        return holder.getValue();
    }

    private static boolean continues(StreamIndex.Entry previous, StreamIndex.Entry next, Segment holder) {
        long end = previous.location() + previous.length();
        return next.location() >= end
                && next.location() - end <= RUN_GAP
                && next.location() + next.length() <= holder.end();
    }

    private void readRun(Segment s, List<StreamIndex.Entry> run, RowSink sink) throws IOException, StoreException {
        StreamIndex.Entry first = run.get(0);
        StreamIndex.Entry last = run.get(run.size() - 1);
        int length = Math.toIntExact(last.location() + last.length() - first.location());
        ByteBuffer span = take(length);
        try {
            s.read(first.location(), span);
            for (StreamIndex.Entry e : run) {
                sink.row(e.position(), span.slice((int) (e.location() - first.location()), e.length()));
            }
        } finally {
            give(span);
        }
    }

    private ByteBuffer take(int length) {
        ByteBuffer b = spans.poll();
        if (b == null || b.capacity() < length) {
            b = ByteBuffer.allocateDirect(Math.max(length, 64 << 10));
        }
        return b.clear().limit(length);
    }

    private void give(ByteBuffer b) {
        if (b.capacity() <= POOLED_BYTES) {
            spans.offer(b); // dropped when the pool is full: the GC frees it
        }
    }
}
