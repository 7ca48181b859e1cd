package dev.tether.store.log;

import dev.tether.store.ReadExtent;
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
 * <p>Thread-safety: guarded by its monitor; the writer adds and trims, readers look up.
 */
final class StreamIndex {
    private static final int CHUNK_SHIFT = 12;
    /** Messages per chunk: 16 KiB of each field, well below G1's humongous objects at any region size. */
    static final int CHUNK = 1 << CHUNK_SHIFT;

    private static final int MASK = CHUNK - 1;

    private Chunk[] chunks = new Chunk[1];
    /** Chunks in use. */
    private int used;
    /** Message {@code i} is at {@code [i >>> CHUNK_SHIFT][i & MASK]}; those from first to end are kept. */
    private int first;

    private int end;

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

    synchronized void add(long position, long location, int length) {
        int c = end >>> CHUNK_SHIFT;
        int at = end & MASK;
        if (c == used) {
            if (used == chunks.length) {
                chunks = Arrays.copyOf(chunks, used * 2);
            }
            chunks[c] = new Chunk(position, location, c == 0 ? 4 : CHUNK);
            used++;
        } else if (at == chunks[c].capacity()) { // the first chunk, still growing towards CHUNK
            chunks[c].grow(Math.min(CHUNK, at * 2));
        }
        chunks[c].set(at, position, location, length);
        end++;
    }

    private long position(int i) {
        return chunks[i >>> CHUNK_SHIFT].positions.get(i & MASK);
    }

    private long location(int i) {
        return chunks[i >>> CHUNK_SHIFT].locations.get(i & MASK);
    }

    private int length(int i) {
        return chunks[i >>> CHUNK_SHIFT].lengths[i & MASK];
    }

    /** Forgets the messages wholly below {@code before} (retention), and the chunks that held only those. */
    synchronized void trim(long before) {
        while (first < end && position(first) + length(first) <= before) {
            first++;
        }
        int drop = Math.min(first >>> CHUNK_SHIFT, used);
        if (drop > 0) {
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
            for (int at = k & MASK, last = Math.min(CHUNK, at + stop - k); at < last; at++, k++) {
                out.positions[k - i] = c.positions.get(at);
                out.locations[k - i] = c.locations.get(at);
                out.lengths[k - i] = c.lengths[at];
            }
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
            for (int at = stop & MASK, last = Math.min(CHUNK, at + end - stop); at < last; at++, stop++) {
                if (c.positions.get(at) >= to || (stop != i && bytes >= maxBytes)) {
                    return stop;
                }
                bytes += c.lengths[at];
            }
        }
        return stop;
    }

    /** What it keeps, for a checkpoint: its first position (none: the largest) and how many messages. */
    synchronized Checkpoint.Kept kept() {
        return new Checkpoint.Kept(first < end ? position(first) : Long.MAX_VALUE, end - first);
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

    /** Log offsets below this one hold none of this stream's live messages (for segment retention). */
    synchronized long lowestLocation() {
        return first < end ? location(first) : Long.MAX_VALUE; // appends reach the log in position order
    }

    /** Up to {@link #CHUNK} consecutive messages. */
    private static final class Chunk {
        final Offsets positions;
        final Offsets locations;
        int[] lengths;

        Chunk(long firstPosition, long firstLocation, int capacity) {
            positions = new Offsets(firstPosition, capacity);
            locations = new Offsets(firstLocation, capacity);
            lengths = new int[capacity];
        }

        int capacity() {
            return lengths.length;
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
    }

    /** One field of a chunk: ints relative to its first message's value while they fit, else longs. */
    private static final class Offsets {
        private final long base;
        private int[] relative;
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
