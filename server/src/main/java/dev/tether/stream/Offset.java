package dev.tether.stream;

import java.util.Optional;

/**
 * A position in a stream, as the opaque, fixed-width, lexicographically sortable string the
 * protocol hands out ({@code 0000000000000000_0000000000001234}). The number after the
 * underscore is the byte position in the stream's logical byte space; the part before it is
 * reserved (always zero today) so the format can grow without breaking sort order.
 */
public record Offset(long position) implements Comparable<Offset> {
    public static final Offset ZERO = new Offset(0);
    private static final int DIGITS = 16;
    private static final String PREFIX = "0".repeat(DIGITS) + "_";

    public Offset {
        if (position < 0) {
            throw new IllegalArgumentException("negative position " + position);
        }
    }

    /** Parses an offset minted by this server; anything else is empty. */
    public static Optional<Offset> parse(String text) {
        if (text == null || text.length() != 2 * DIGITS + 1 || !text.startsWith(PREFIX)) {
            return Optional.empty();
        }
        long value = 0;
        for (int i = DIGITS + 1; i < text.length(); i++) {
            char ch = text.charAt(i);
            if (ch < '0' || ch > '9') {
                return Optional.empty();
            }
            value = value * 10 + (ch - '0');
        }
        return Optional.of(new Offset(value));
    }

    @Override
    public String toString() {
        char[] out = new char[2 * DIGITS + 1];
        java.util.Arrays.fill(out, 0, DIGITS, '0');
        out[DIGITS] = '_';
        long v = position;
        for (int i = out.length - 1; i > DIGITS; i--) {
            out[i] = (char) ('0' + (v % 10));
            v /= 10;
        }
        return new String(out);
    }

    @Override
    public int compareTo(Offset other) {
        return Long.compare(position, other.position);
    }
}
