package dev.tether.stream;

import dev.tether.store.StreamRecord;
import java.util.Optional;

/**
 * A position in a stream, as the opaque, fixed-width, lexicographically sortable string the
 * protocol hands out: {@code IIIIIIIIIIIIIIII_PPPPPPPPPPPPPPPP}, sixteen decimal digits each.
 *
 * <p>{@code P} is the byte position in the stream's logical byte space. {@code I} is the
 * <b>incarnation</b>: the store-wide id of the stream that owns that byte, never reused, like a
 * Kafka topic id. A path that is deleted and created again gets a new id, so an offset read from
 * the old stream is told apart instead of silently reading the new stream's bytes (finding 20 of
 * the outside probe). A fork shares its source's byte space (Durable Streams §4.2): below its
 * fork point it hands out its source's incarnation, so offsets keep sorting in stream order
 * along the chain (a fork's id is always greater than its source's), and the source's offsets
 * stay valid on the fork up to the fork point. Incarnation 0 is what servers before this format
 * wrote; see {@link StreamEngine#read(String, ReadFrom)} for where it is still accepted.
 *
 * @param incarnation the id of the stream that issued the offset (0: not scoped)
 * @param position    the byte position
 */
public record Offset(long incarnation, long position) implements Comparable<Offset> {
    /** The start of any stream, whatever its incarnation. */
    public static final Offset ZERO = new Offset(0, 0);

    private static final int DIGITS = 16;
    private static final long MAX = 9_999_999_999_999_999L;

    public Offset {
        if (incarnation < 0 || incarnation > MAX || position < 0 || position > MAX) {
            throw new IllegalArgumentException("offset out of range: " + incarnation + "_" + position);
        }
    }

    /** The tail of a stream: always the stream's own incarnation (a fork's tail is at or past its fork point). */
    public static Offset tail(StreamRecord stream) {
        return new Offset(stream.id(), stream.tail());
    }

    /** Parses an offset in this server's format; anything else is empty. */
    public static Optional<Offset> parse(String text) {
        if (text == null || text.length() != 2 * DIGITS + 1 || text.charAt(DIGITS) != '_') {
            return Optional.empty();
        }
        long incarnation = digits(text, 0);
        long position = digits(text, DIGITS + 1);
        if (incarnation < 0 || position < 0) {
            return Optional.empty();
        }
        return Optional.of(new Offset(incarnation, position));
    }

    /** Sixteen decimal digits from {@code start}, or -1. */
    private static long digits(String text, int start) {
        long value = 0;
        for (int i = start; i < start + DIGITS; i++) {
            char ch = text.charAt(i);
            if (ch < '0' || ch > '9') {
                return -1;
            }
            value = value * 10 + (ch - '0');
        }
        return value;
    }

    @Override
    public String toString() {
        char[] out = new char[2 * DIGITS + 1];
        write(out, 0, incarnation);
        out[DIGITS] = '_';
        write(out, DIGITS + 1, position);
        return new String(out);
    }

    private static void write(char[] out, int start, long value) {
        long v = value;
        for (int i = start + DIGITS - 1; i >= start; i--) {
            out[i] = (char) ('0' + (v % 10));
            v /= 10;
        }
    }

    /** String order: by incarnation, then position. */
    @Override
    public int compareTo(Offset other) {
        int c = Long.compare(incarnation, other.incarnation);
        return c != 0 ? c : Long.compare(position, other.position);
    }
}
