package dev.tether.fuzz;

import java.nio.charset.StandardCharsets;

/** Printable excerpts of arbitrary strings and bytes, for failure reports that must fit a terminal. */
final class Text {
    /** Replaced by {@code <token>} in everything printed, so reports never carry the bearer token. */
    private static volatile String secret;

    private Text() {}

    static void redact(String token) {
        secret = token == null || token.isEmpty() ? null : token;
    }

    static String excerpt(byte[] bytes, int max) {
        StringBuilder sb = new StringBuilder();
        int shown = Math.min(bytes.length, max);
        for (int i = 0; i < shown; i++) {
            int b = bytes[i] & 0xff;
            append(sb, b);
        }
        if (bytes.length > shown) {
            sb.append("...(+").append(bytes.length - shown).append(" B)");
        }
        return redacted(sb.toString());
    }

    /** Chars 0x80-0xff are shown as escapes too: in request targets they stand for raw bytes. */
    static String excerpt(String s, int max) {
        StringBuilder sb = new StringBuilder();
        int shown = Math.min(s.length(), max);
        for (int i = 0; i < shown; i++) {
            char c = s.charAt(i);
            if (c > 0xff) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                append(sb, c);
            }
        }
        if (s.length() > shown) {
            sb.append("...(+").append(s.length() - shown).append(" chars)");
        }
        return redacted(sb.toString());
    }

    private static void append(StringBuilder sb, int b) {
        switch (b) {
            case '\r' -> sb.append("\\r");
            case '\n' -> sb.append("\\n");
            case '\t' -> sb.append("\\t");
            case '\\' -> sb.append("\\\\");
            default -> {
                if (b < 0x20 || b >= 0x7f) {
                    sb.append(String.format("\\x%02x", b));
                } else {
                    sb.append((char) b);
                }
            }
        }
    }

    private static String redacted(String s) {
        String t = secret;
        return t == null ? s : s.replace(t, "<token>");
    }

    /** Decodes as UTF-8, replacing malformed input (for pattern checks on bodies). */
    static String utf8(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** One byte per char (ISO-8859-1), the way request lines and headers are put on the wire. */
    static byte[] latin1(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** A string whose chars are the given bytes, for building request targets with raw bytes. */
    static String fromLatin1(byte[] bytes) {
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }
}
