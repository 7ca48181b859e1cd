package dev.tether.store.log;

import dev.tether.store.ReadExtent;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Where one stream's messages are in the log: for each message, its position in the stream, the
 * log offset of its bytes and their length, in position order (appends only ever add at the end).
 * Kept in chunks of {@link #CHUNK} messages (the first grows from 4 by doubling, so a small stream
 * stays small); a chunk, once full, is never copied again, and trimming drops a prefix, and whole
 * chunks with it. Within a chunk, positions and log offsets are kept as ints relative to its
 * first message's, about 12 bytes a message; a chunk whose messages span more than an int's range
 * (very large messages, or a quiet stream among busy ones) switches to longs for that field.
 *
 * <p>A chunk of ints moves to the log's {@link ChunkFile} as soon as it is full, and the newest
 * one, still filling, when the stream goes quiet ({@link #park}; the next add brings it back), so
 * what an active index holds on the heap is its newest chunk (up to 4,096 messages) and about 150
 * bytes per older one, however much the log keeps, and a quiet one about 150 bytes per chunk. A
 * chunk with longs stays on the heap (a stream's 4,096 messages spread over more than 2 GiB of
 * log), and so does one the file cannot take (a full disk), or every chunk when there is no chunk
 * file.
 *
 * <p>Thread-safety: guarded by its monitor; the writer thread alone adds, trims, parks and
 * releases, readers look up from any thread.
 */
final class StreamIndex {
    private static final int CHUNK_SHIFT = 12;
    /** Messages per chunk: 16 KiB of each field, well below G1's humongous objects at any region size. */
    static final int CHUNK = 1 << CHUNK_SHIFT;

    private static final int MASK = CHUNK - 1;
    /** A field of a chunk in the file (native order: the file is rebuilt at every open). */
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;

    /** Where full and parked chunks go, or null: they stay on the heap. */
    private final ChunkFile file;

    private Chunk[] chunks = new Chunk[1];
    /** Chunks in use. */
    private int used;
    /** Message {@code i} is at {@code [i >>> CHUNK_SHIFT][i & MASK]}; those from first to end are kept. */
    private int first;

    private int end;

    /** The {@link QuietStreams} period it was last written in (its writer thread only); -1 before. */
    int writtenIn = -1;

    /**
     * Messages {@link #range} listed: the i-th one's position, log offset and length, in arrays
     * rather than an object each (a catch-up lists thousands per read).
     */
    static final class Range {
        private final long[] positions;
        private final long[] locations;
        private final int[] lengths;

        private Range(int size) {
            positions = new long[size];
            locations = new long[size];
            lengths = new int[size];
        }

        int size() {
            return lengths.length;
        }

        long position(int i) {
            return positions[i];
        }

        long location(int i) {
            return locations[i];
        }

        int length(int i) {
            return lengths[i];
        }
    }

    /** An index whose chunks all stay on the heap. */
    StreamIndex() {
        this(null);
    }

    /** @param file where full and parked chunks go, or null to keep them on the heap */
    StreamIndex(ChunkFile file) {
        this.file = file;
    }

    /**
     * Adds the next message. The writer thread alone adds, trims, parks and releases, so the chunk
     * that just filled up is written to the file outside the monitor (readers wait for no disk
     * write) and swapped in under it.
     */
    void add(long position, long location, int length) {
        Chunk full = addLocked(position, location, length);
        if (full != null) {
            move(full, CHUNK);
        }
    }

    /**
     * Moves the newest chunk, still filling, to the file, in a slot of its size: the stream has gone
     * quiet ({@link QuietStreams}), and its entries need not stay on the heap until it fills. The
     * next {@link #add} brings them back (reading them from the file's mapping, on the writer's
     * thread: a page the kernel dropped is read from disk then). Nothing happens when the chunk has
     * longs, is in the file already, or the file cannot take it. Writer thread.
     *
     * @return whether it was moved
     */
    boolean park() {
        Chunk tail;
        int n;
        synchronized (this) {
            if (file == null || used == 0 || !chunks[used - 1].movable()) {
                return false;
            }
            tail = chunks[used - 1];
            n = end - ((used - 1) << CHUNK_SHIFT);
        }
        return move(tail, ChunkFile.sizeFor(n));
    }

    /** Writes a chunk's first {@code size} entries to the file and swaps the slot in; writer thread. */
    private boolean move(Chunk c, int size) {
        int s = file.store(c.positions.relative, c.locations.relative, c.lengths, size);
        if (s < 0) {
            return false; // the file cannot take it: it stays on the heap
        }
        MemorySegment memory = file.memory(s, size);
        synchronized (this) {
            c.moved(memory, s, size);
        }
        return true;
    }

    /** Adds under the monitor; returns the chunk this add left full and ready to move to the file, or null. */
    private synchronized Chunk addLocked(long position, long location, int length) {
        int c = end >>> CHUNK_SHIFT;
        int at = end & MASK;
        Chunk full = null;
        if (c == used) {
            if (used == chunks.length) {
                chunks = Arrays.copyOf(chunks, used * 2);
            }
            chunks[c] = new Chunk(position, location, c == 0 ? ChunkFile.SMALLEST : CHUNK);
            used++;
        } else {
            if (chunks[c].moved != null) { // parked: back to the heap
                chunks[c].unpark(file);
            }
            if (at == chunks[c].capacity()) { // the first chunk, or a parked one, growing towards CHUNK
                chunks[c].grow(Math.min(CHUNK, at * 2));
            }
        }
        chunks[c].set(at, position, location, length);
        end++;
        if (file != null && (end & MASK) == 0 && chunks[c].movable()) {
            full = chunks[c]; // full: it is never written again
        }
        return full;
    }

    private long position(int i) {
        return chunks[i >>> CHUNK_SHIFT].position(i & MASK);
    }

    private long location(int i) {
        return chunks[i >>> CHUNK_SHIFT].location(i & MASK);
    }

    private int length(int i) {
        return chunks[i >>> CHUNK_SHIFT].length(i & MASK);
    }

    /** Forgets the messages wholly below {@code before} (retention), and the chunks that held only those. */
    synchronized void trim(long before) {
        while (first < end && position(first) + length(first) <= before) {
            first++;
        }
        int drop = Math.min(first >>> CHUNK_SHIFT, used);
        if (drop > 0) {
            for (int c = 0; c < drop; c++) {
                chunks[c].release(file);
            }
            int kept = used - drop;
            System.arraycopy(chunks, drop, chunks, 0, kept);
            Arrays.fill(chunks, kept, used, null);
            used = kept;
            first -= drop << CHUNK_SHIFT;
            end -= drop << CHUNK_SHIFT;
        }
    }

    /**
     * The messages overlapping {@code [from, to)}: the one holding {@code from} first, then
     * following ones until {@code maxBytes} are covered (at least one when any overlaps).
     */
    synchronized Range range(long from, long to, int maxBytes) {
        int i = firstOverlapping(from, to);
        int stop = stop(i, to, maxBytes);
        Range out = new Range(stop - i);
        for (int k = i; k < stop; ) { // a chunk at a time: its arrays looked up once, not per message
            Chunk c = chunks[k >>> CHUNK_SHIFT];
            int at = k & MASK;
            int n = Math.min(CHUNK - at, stop - k);
            c.copyTo(at, n, out, k - i);
            k += n;
        }
        return out;
    }

    /** What {@link #range} would cover, without listing it; null when it would be empty. */
    synchronized ReadExtent extent(long from, long to, int maxBytes) {
        int i = firstOverlapping(from, to);
        int stop = stop(i, to, maxBytes);
        return stop == i ? null : new ReadExtent(position(i), position(stop - 1) + length(stop - 1), stop - i);
    }

    /**
     * Where in the log {@link #range} would read: from its first message's log offset to the end
     * of its last one's, as {@code {start, end}}; null when it would be empty. A stream's messages
     * are in the log in position order, so this span holds them all (and whatever other streams
     * wrote between them).
     */
    synchronized long[] span(long from, long to, int maxBytes) {
        int i = firstOverlapping(from, to);
        int stop = stop(i, to, maxBytes);
        return stop == i ? null : new long[] {location(i), location(stop - 1) + length(stop - 1)};
    }

    /** The index of the first message overlapping {@code [from, to)}, or where it would be. */
    private int firstOverlapping(long from, long to) {
        int i = first; // the last message starting at or before from, which may hold it
        int lo = first;
        int hi = end - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (position(mid) <= from) {
                i = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        while (i < end && position(i) < to && position(i) + length(i) <= from) {
            i++; // ends at or before from
        }
        return i;
    }

    /** One past the last message of a range from index {@code i}: at least one, then up to maxBytes. */
    private int stop(int i, long to, int maxBytes) {
        int stop = i;
        long bytes = 0;
        while (stop < end) { // a chunk at a time, as in range
            Chunk c = chunks[stop >>> CHUNK_SHIFT];
            int at = stop & MASK;
            int last = Math.min(CHUNK, at + end - stop);
            int limit = c.position(last - 1) < to ? last : c.firstAtOrAbove(at, last - 1, to); // positions only grow
            for (; at < limit; at++, stop++) {
                if (stop != i && bytes >= maxBytes) {
                    return stop;
                }
                bytes += c.length(at);
            }
            if (limit < last) {
                return stop;
            }
        }
        return stop;
    }

    /** What it keeps, for a checkpoint: its first position (none: the largest) and how many messages. */
    synchronized Checkpoint.Kept kept() {
        return new Checkpoint.Kept(first < end ? position(first) : Long.MAX_VALUE, end - first);
    }

    /**
     * Forgets every message, giving its chunks' slots in the file back (the stream was dropped,
     * or recovery starts its indexes again); the index is empty from then on.
     */
    synchronized void release() {
        for (int c = 0; c < used; c++) {
            chunks[c].release(file);
        }
        chunks = new Chunk[1];
        used = 0;
        first = 0;
        end = 0;
    }

    /** Chunks held on the heap: the newest unless parked, and any the chunk file could not take (tests). */
    synchronized int chunksOnHeap() {
        int n = 0;
        for (int c = 0; c < used; c++) {
            n += chunks[c].slot < 0 ? 1 : 0;
        }
        return n;
    }

    /** The number of messages it keeps. */
    synchronized int size() {
        return end - first;
    }

    /** Reads an index of a first-version checkpoint: {@code count:i32 (position:i64 location:i64 length:i32)*}. */
    static StreamIndex readFrom(java.io.DataInputStream in) throws java.io.IOException {
        StreamIndex index = new StreamIndex();
        int n = in.readInt();
        for (int i = 0; i < n; i++) {
            index.add(in.readLong(), in.readLong(), in.readInt());
        }
        return index;
    }

    /** A copy whose full chunks go to {@code file}: for an index read from a first-version checkpoint, on the heap. */
    synchronized StreamIndex withChunksIn(ChunkFile file) {
        StreamIndex copy = new StreamIndex(file);
        for (int i = first; i < end; i++) {
            copy.add(position(i), location(i), length(i));
        }
        return copy;
    }

    /** Log offsets below this one hold none of this stream's live messages (for segment retention). */
    synchronized long lowestLocation() {
        return first < end ? location(first) : Long.MAX_VALUE; // appends reach the log in position order
    }

    /** Up to {@link #CHUNK} consecutive messages: on the heap, or in a {@link ChunkFile} slot once full or parked. */
    private static final class Chunk {
        final Offsets positions;
        final Offsets locations;
        int[] lengths;
        /** Its slot in the chunk file, or -1 while on the heap. */
        int slot = -1;
        /** The slot's memory, or null while on the heap. */
        MemorySegment moved;
        /** Entries of each field in the slot ({@link #CHUNK} for a full chunk), while it has one. */
        int stride;

        Chunk(long firstPosition, long firstLocation, int capacity) {
            positions = new Offsets(firstPosition, capacity);
            locations = new Offsets(firstLocation, capacity);
            lengths = new int[capacity];
        }

        long position(int at) {
            return moved == null ? positions.get(at) : positions.base + moved.getAtIndex(INT, at);
        }

        long location(int at) {
            return moved == null ? locations.get(at) : locations.base + moved.getAtIndex(INT, stride + at);
        }

        int length(int at) {
            return moved == null ? lengths[at] : moved.getAtIndex(INT, 2 * stride + at);
        }

        /** Lists its messages {@code at} to {@code at + n} into {@code out} from {@code dst}; from the file in bulk. */
        void copyTo(int at, int n, Range out, int dst) {
            if (moved == null) {
                for (int j = 0; j < n; j++) {
                    out.positions[dst + j] = positions.get(at + j);
                    out.locations[dst + j] = locations.get(at + j);
                    out.lengths[dst + j] = lengths[at + j];
                }
                return;
            }
            // Each field's ints pass through the lengths array, which takes the lengths last.
            MemorySegment.copy(moved, INT, (long) at * Integer.BYTES, out.lengths, dst, n);
            for (int j = 0; j < n; j++) {
                out.positions[dst + j] = positions.base + out.lengths[dst + j];
            }
            MemorySegment.copy(moved, INT, (long) (stride + at) * Integer.BYTES, out.lengths, dst, n);
            for (int j = 0; j < n; j++) {
                out.locations[dst + j] = locations.base + out.lengths[dst + j];
            }
            MemorySegment.copy(moved, INT, (long) (2 * stride + at) * Integer.BYTES, out.lengths, dst, n);
        }

        int capacity() {
            return moved == null ? lengths.length : stride;
        }

        /** The first of its messages {@code lo} to {@code hi} whose position is {@code value} or more ({@code hi}'s is). */
        int firstAtOrAbove(int lo, int hi, long value) {
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (position(mid) < value) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            return lo;
        }

        void grow(int capacity) {
            positions.grow(capacity);
            locations.grow(capacity);
            lengths = Arrays.copyOf(lengths, capacity);
        }

        void set(int at, long position, long location, int length) {
            positions.set(at, position);
            locations.set(at, location);
            lengths[at] = length;
        }

        /** On the heap with ints (a chunk with longs stays on the heap). */
        boolean movable() {
            return moved == null && positions.relative != null && locations.relative != null;
        }

        /** Its first {@code size} entries are now in {@code memory}, slot {@code s} of the file: the heap arrays go. */
        void moved(MemorySegment memory, int s, int size) {
            moved = memory;
            slot = s;
            stride = size;
            positions.relative = null;
            locations.relative = null;
            lengths = null;
        }

        /** Back to the heap from its slot, which is given back; as many entries as the slot held. */
        void unpark(ChunkFile file) {
            int[] p = new int[stride];
            int[] l = new int[stride];
            int[] n = new int[stride];
            MemorySegment.copy(moved, INT, 0, p, 0, stride);
            MemorySegment.copy(moved, INT, (long) stride * Integer.BYTES, l, 0, stride);
            MemorySegment.copy(moved, INT, 2L * stride * Integer.BYTES, n, 0, stride);
            positions.relative = p;
            locations.relative = l;
            lengths = n;
            release(file);
        }

        /** Gives its slot back, if it has one. */
        void release(ChunkFile file) {
            if (slot >= 0) {
                file.free(slot, stride);
                slot = -1;
                moved = null;
            }
        }
    }

    /** One field of a chunk: ints relative to its first message's value while they fit, else longs. */
    private static final class Offsets {
        final long base;
        /** The values less {@link #base}, while they all fit; null once longs, or once the chunk moved. */
        int[] relative;

        private long[] absolute;

        Offsets(long base, int capacity) {
            this.base = base;
            this.relative = new int[capacity];
        }

        long get(int at) {
            return relative != null ? base + relative[at] : absolute[at];
        }

        void set(int at, long value) {
            long delta = value - base;
            if (relative != null && delta == (int) delta) {
                relative[at] = (int) delta;
                return;
            }
            if (relative != null) { // the first value that does not fit: this chunk keeps longs
                absolute = new long[relative.length];
                for (int k = 0; k < at; k++) {
                    absolute[k] = base + relative[k];
                }
                relative = null;
            }
            absolute[at] = value;
        }

        void grow(int capacity) {
            if (relative != null) {
                relative = Arrays.copyOf(relative, capacity);
            } else {
                absolute = Arrays.copyOf(absolute, capacity);
            }
        }
    }
}
