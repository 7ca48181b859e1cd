package dev.tether.store.log;

import dev.tether.store.ReadExtent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Where one stream's messages are in the log: for each message, its position in the stream, the
 * log offset of its bytes and their length, in position order (appends only ever add at the end).
 * Three parallel primitive arrays, about 20 bytes a message, in chunks of {@link #CHUNK} messages
 * once a stream has that many (the first chunk grows from 4 by doubling, so a small stream stays
 * small). A chunk, once full, is never copied again: a long stream's index used to be one array
 * doubled as it grew, so each append phase left large young arrays for the collector to copy, and
 * copied everything kept at every doubling. Trimming drops a prefix, and whole chunks with it.
 *
 * <p>Thread-safety: guarded by its monitor; the writer adds and trims, readers look up.
 */
final class StreamIndex {
    private static final int CHUNK_SHIFT = 12;
    /** Messages per chunk: 32 KiB of positions, well below G1's humongous objects at any region size. */
    static final int CHUNK = 1 << CHUNK_SHIFT;

    private static final int MASK = CHUNK - 1;

    private long[][] positions = {new long[4]};
    private long[][] locations = {new long[4]};
    private int[][] lengths = {new int[4]};
    /** Chunks in use. */
    private int chunks = 1;
    /** Message {@code i} is at {@code [i >>> CHUNK_SHIFT][i & MASK]}; those from first to end are kept. */
    private int first;

    private int end;

    /** One message: its position, the log offset of its bytes, their length. */
    record Entry(long position, long location, int length) {}

    synchronized void add(long position, long location, int length) {
        int c = end >>> CHUNK_SHIFT;
        int at = end & MASK;
        if (c == chunks) {
            if (chunks == positions.length) {
                int table = positions.length * 2;
                positions = Arrays.copyOf(positions, table);
                locations = Arrays.copyOf(locations, table);
                lengths = Arrays.copyOf(lengths, table);
            }
            positions[c] = new long[CHUNK];
            locations[c] = new long[CHUNK];
            lengths[c] = new int[CHUNK];
            chunks++;
        } else if (at == positions[c].length) { // the first chunk, still growing towards CHUNK
            int capacity = Math.min(CHUNK, at * 2);
            positions[c] = Arrays.copyOf(positions[c], capacity);
            locations[c] = Arrays.copyOf(locations[c], capacity);
            lengths[c] = Arrays.copyOf(lengths[c], capacity);
        }
        positions[c][at] = position;
        locations[c][at] = location;
        lengths[c][at] = length;
        end++;
    }

    private long position(int i) {
        return positions[i >>> CHUNK_SHIFT][i & MASK];
    }

    private long location(int i) {
        return locations[i >>> CHUNK_SHIFT][i & MASK];
    }

    private int length(int i) {
        return lengths[i >>> CHUNK_SHIFT][i & MASK];
    }

    /** Forgets the messages wholly below {@code before} (retention), and the chunks that held only those. */
    synchronized void trim(long before) {
        while (first < end && position(first) + length(first) <= before) {
            first++;
        }
        int drop = Math.min(first >>> CHUNK_SHIFT, chunks);
        if (drop > 0) {
            int kept = chunks - drop;
            System.arraycopy(positions, drop, positions, 0, kept);
            System.arraycopy(locations, drop, locations, 0, kept);
            System.arraycopy(lengths, drop, lengths, 0, kept);
            Arrays.fill(positions, kept, chunks, null);
            Arrays.fill(locations, kept, chunks, null);
            Arrays.fill(lengths, kept, chunks, null);
            chunks = kept;
            first -= drop << CHUNK_SHIFT;
            end -= drop << CHUNK_SHIFT;
        }
    }

    /**
     * The messages overlapping {@code [from, to)}: the one holding {@code from} first, then
     * following ones until {@code maxBytes} are covered (at least one when any overlaps).
     */
    synchronized List<Entry> range(long from, long to, int maxBytes) {
        int i = firstOverlapping(from, to);
        int stop = stop(i, to, maxBytes);
        List<Entry> out = new ArrayList<>(stop - i);
        for (int k = i; k < stop; k++) {
            out.add(new Entry(position(k), location(k), length(k)));
        }
        return out;
    }

    /** What {@link #range} would cover, without listing it; null when it would be empty. */
    synchronized ReadExtent extent(long from, long to, int maxBytes) {
        int i = firstOverlapping(from, to);
        int stop = stop(i, to, maxBytes);
        return stop == i ? null : new ReadExtent(position(i), position(stop - 1) + length(stop - 1), stop - i);
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
        while (stop < end && position(stop) < to && (stop == i || bytes < maxBytes)) {
            bytes += length(stop++);
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
}
