package dev.tether.inference.embedded;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Turns token pieces (UTF-8 bytes, possibly split mid-character) into text deltas, and cuts the
 * text at the first stop sequence. Text that could be the start of a stop sequence is held back
 * until it is known not to be one, so a stop sequence never leaks into the output.
 *
 * <p>Not thread-safe; one per turn.
 */
final class TextAssembler {
    private final List<String> stops;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    TextAssembler(List<String> stops) {
        this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
    }

    /** Adds a token's bytes; returns the text that can be emitted now (possibly empty). */
    String add(byte[] piece) {
        if (stopped) return "";
        pending.writeBytes(piece);
        byte[] bytes = pending.toByteArray();
        int complete = completePrefix(bytes);
        pending.reset();
        pending.write(bytes, complete, bytes.length - complete);
        held.append(new String(bytes, 0, complete, StandardCharsets.UTF_8));
        return release();
    }

    /** True once a stop sequence was seen; later pieces are ignored. */
    boolean stopped() {
        return stopped;
    }

    /** The held-back text at the end of the turn (an unfinished character becomes U+FFFD). */
    String finish() {
        if (stopped) return "";
        held.append(new String(pending.toByteArray(), StandardCharsets.UTF_8));
        pending.reset();
        String out = held.toString();
        held.setLength(0);
        return out;
    }

    private String release() {
        int first = -1;
        for (String stop : stops) {
            int at = held.indexOf(stop);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        if (first >= 0) {
            stopped = true;
            String out = held.substring(0, first);
            held.setLength(0);
            return out;
        }
        int keep = 0;
        for (String stop : stops) keep = Math.max(keep, overlap(held, stop));
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** The longest suffix of {@code text} that is a proper prefix of {@code stop}. */
    private static int overlap(CharSequence text, String stop) {
        for (int n = Math.min(text.length(), stop.length() - 1); n > 0; n--) {
            if (stop.regionMatches(0, text.toString(), text.length() - n, n)) return n;
        }
        return 0;
    }

    /**
     * Length of the longest prefix that does not end inside a multi-byte character. Bytes that
     * can never complete (a stray continuation byte, an over-long run) are passed through and
     * decoded as U+FFFD, so nothing waits forever.
     */
    static int completePrefix(byte[] b) {
        int n = b.length;
        for (int back = 1; back <= Math.min(3, n); back++) {
            int lead = b[n - back] & 0xFF;
            if ((lead & 0xC0) == 0x80) continue; // continuation byte: look further back
            int need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            return need > back ? n - back : n;
        }
        return n;
    }
}
