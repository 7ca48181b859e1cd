package dev.tether.store.log;

import dev.tether.store.ReadExtent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Where one stream's messages are in the log: for each message, its position in the stream, the
 * log offset of its bytes and their length, in position order (appends only ever add at the end).
 * Three parallel primitive arrays, about 20 bytes a message. Trimming drops a prefix.
 *
 * <p>Thread-safety: guarded by its monitor; the writer adds and trims, readers look up.
 */
final class StreamIndex {
    private long[] positions = new long[4];
    private long[] locations = new long[4];
    private int[] lengths = new int[4];
    private int first;
    private int end;

    /** One message: its position, the log offset of its bytes, their length. */
    record Entry(long position, long location, int length) {}

    synchronized void add(long position, long location, int length) {
        if (end == positions.length) {
            grow();
        }
        positions[end] = position;
        locations[end] = location;
        lengths[end] = length;
        end++;
    }

    private void grow() {
        int live = end - first;
        int capacity = Math.max(4, live * 2);
        positions = Arrays.copyOfRange(positions, first, first + capacity);
        locations = Arrays.copyOfRange(locations, first, first + capacity);
        lengths = Arrays.copyOfRange(lengths, first, first + capacity);
        first = 0;
        end = live;
    }

    /** Forgets the messages wholly below {@code before} (retention). */
    synchronized void trim(long before) {
        while (first < end && positions[first] + lengths[first] <= before) {
            first++;
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
            out.add(new Entry(positions[k], locations[k], lengths[k]));
        }
        return out;
    }

    /** What {@link #range} would cover, without listing it; null when it would be empty. */
    synchronized ReadExtent extent(long from, long to, int maxBytes) {
        int i = firstOverlapping(from, to);
        int stop = stop(i, to, maxBytes);
        return stop == i ? null : new ReadExtent(positions[i], positions[stop - 1] + lengths[stop - 1], stop - i);
    }

    /** The index of the first message overlapping {@code [from, to)}, or where it would be. */
    private int firstOverlapping(long from, long to) {
        int i = Arrays.binarySearch(positions, first, end, from);
        if (i < 0) {
            i = Math.max(first, -i - 2); // the message starting before from, which may hold it
        }
        while (i < end && positions[i] < to && positions[i] + lengths[i] <= from) {
            i++; // ends at or before from
        }
        return i;
    }

    /** One past the last message of a range from index {@code i}: at least one, then up to maxBytes. */
    private int stop(int i, long to, int maxBytes) {
        int stop = i;
        long bytes = 0;
        while (stop < end && positions[stop] < to && (stop == i || bytes < maxBytes)) {
            bytes += lengths[stop++];
        }
        return stop;
    }

    /** What it keeps, for a checkpoint: its first position (none: the largest) and how many messages. */
    synchronized Checkpoint.Kept kept() {
        return new Checkpoint.Kept(first < end ? positions[first] : Long.MAX_VALUE, end - first);
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
        return first < end ? locations[first] : Long.MAX_VALUE; // appends reach the log in position order
    }
}
