package dev.tether.http;

import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.store.StreamRecord.ProducerTuple;
import dev.tether.stream.Offset;
import dev.tether.stream.ReadFrom;
import io.vertx.core.http.HttpServerRequest;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/** Parses and validates Durable Streams request headers and parameters; bad input is a 400. */
final class StreamRequests {
    static final String PREFIX = "/v1/stream/";
    private static final Pattern NON_NEGATIVE = Pattern.compile("0|[1-9][0-9]{0,15}");
    private static final long MAX_SAFE_INTEGER = (1L << 53) - 1;
    private static final int MAX_PATH_LENGTH = 1024;
    static final int MAX_PRODUCER_ID_BYTES = 256;

    private StreamRequests() {}

    /** The stream path below {@code /v1/stream/}, percent-decoded and checked. */
    static String streamPath(String rawPath) {
        String path = percentDecode(rawPath.substring(PREFIX.length()));
        if (path.isEmpty()) {
            throw Refusal.invalid("a stream path is required after " + PREFIX);
        }
        if (path.length() > MAX_PATH_LENGTH) {
            throw Refusal.of(
                    Condition.URI_TOO_LONG,
                    "path_too_long",
                    "stream paths are limited to " + MAX_PATH_LENGTH + " characters");
        }
        for (String segment : path.split("/", -1)) {
            if (segment.equals("..") || segment.equals(".")) {
                throw Refusal.invalid("stream paths may not contain '.' or '..' segments");
            }
        }
        for (int i = 0; i < path.length(); i++) {
            if (path.charAt(i) < 0x20 || path.charAt(i) == 0x7f) {
                throw Refusal.invalid("stream paths may not contain control characters");
            }
        }
        return path;
    }

    /**
     * Percent-decodes like {@link java.net.URLDecoder}, but strictly: each run of escapes must be
     * valid UTF-8. URLDecoder turns malformed bytes into U+FFFD, so {@code %c0%ae} and
     * {@code %ff%fe} both named the stream "\uFFFD\uFFFD" (finding 22 of the outside probe).
     * Other characters, {@code +} included, are kept as they are.
     */
    private static String percentDecode(String raw) {
        try {
            return Utf8.percentDecode(raw);
        } catch (IllegalArgumentException e) {
            throw Refusal.invalid("the stream path is not valid percent-encoding: " + printable(raw));
        } catch (CharacterCodingException e) {
            throw Refusal.invalid("the stream path's percent-escapes are not valid UTF-8: " + printable(raw)
                    + "; percent-encode the path's UTF-8 bytes");
        }
    }

    /** {@code Stream-TTL}: seconds as a plain non-negative decimal integer (§5.1). */
    static Long ttl(HttpServerRequest req) {
        String v = req.getHeader(ProtocolHeaders.TTL);
        if (v == null) {
            return null;
        }
        if (!NON_NEGATIVE.matcher(v.trim()).matches()) {
            throw Refusal.invalid("Stream-TTL must be a whole number of seconds without sign, "
                    + "leading zeros or exponent, got '" + v + "'");
        }
        return Long.parseLong(v.trim());
    }

    /** {@code Stream-Expires-At}: an RFC 3339 timestamp. */
    static Long expiresAt(HttpServerRequest req) {
        String v = req.getHeader(ProtocolHeaders.EXPIRES_AT);
        if (v == null) {
            return null;
        }
        try {
            return OffsetDateTime.parse(v.trim().toUpperCase(Locale.ROOT), DateTimeFormatter.ISO_OFFSET_DATE_TIME)
                    .toInstant()
                    .toEpochMilli();
        } catch (DateTimeParseException e) {
            throw Refusal.invalid("Stream-Expires-At must be an RFC 3339 timestamp such as "
                    + "2030-01-01T00:00:00Z, got '" + v + "'");
        }
    }

    /** {@code Stream-Closed}: only "true" (any case) counts; anything else is absent (§4.1). */
    static boolean closed(HttpServerRequest req) {
        String v = req.getHeader(ProtocolHeaders.CLOSED);
        return v != null && v.trim().equalsIgnoreCase("true");
    }

    /** The three producer headers, all or none (§5.2.1). */
    static ProducerTuple producer(HttpServerRequest req) {
        String id = req.getHeader(ProtocolHeaders.PRODUCER_ID);
        String epoch = req.getHeader(ProtocolHeaders.PRODUCER_EPOCH);
        String seq = req.getHeader(ProtocolHeaders.PRODUCER_SEQ);
        if (id == null && epoch == null && seq == null) {
            return null;
        }
        if (id == null || epoch == null || seq == null) {
            throw Refusal.invalid("Producer-Id, Producer-Epoch and Producer-Seq must be sent together");
        }
        if (id.isBlank()) {
            throw Refusal.invalid("Producer-Id must not be empty");
        }
        if (id.getBytes(StandardCharsets.UTF_8).length > MAX_PRODUCER_ID_BYTES) {
            // Producer state is kept as long as the stream: ids are small by design (finding 10).
            throw Refusal.invalid("Producer-Id is limited to " + MAX_PRODUCER_ID_BYTES + " bytes, got "
                    + id.getBytes(StandardCharsets.UTF_8).length);
        }
        return new ProducerTuple(id, producerNumber("Producer-Epoch", epoch), producerNumber("Producer-Seq", seq));
    }

    private static long producerNumber(String name, String v) {
        String t = v.trim();
        if (!t.matches("[0-9]{1,16}") || Long.parseLong(t) > MAX_SAFE_INTEGER) {
            throw Refusal.invalid(name + " must be an integer between 0 and 2^53-1, got '" + v + "'");
        }
        return Long.parseLong(t);
    }

    /** Where a read starts: {@code -1} or absent, {@code now}, or an offset (§6). */
    static ReadFrom readOffset(HttpServerRequest req, boolean required) {
        List<String> values = req.params().getAll("offset");
        if (values.isEmpty()) {
            if (required) {
                throw Refusal.invalid(
                        "live reads need an offset parameter (-1, now, or an offset from " + "Stream-Next-Offset)");
            }
            return ReadFrom.START;
        }
        if (values.size() > 1) {
            throw Refusal.invalid("send the offset parameter once, got " + values.size());
        }
        String v = values.get(0);
        if (v.equals("-1")) {
            return ReadFrom.START;
        }
        if (v.equals("now")) {
            return ReadFrom.TAIL;
        }
        return new ReadFrom.At(offset("offset", v));
    }

    static Offset offset(String what, String v) {
        return Offset.parse(v)
                .orElseThrow(() -> Refusal.invalid(what + " '" + printable(v)
                        + "' is not an offset this server issued (expected the value of Stream-Next-Offset)"));
    }

    /** {@code Stream-Fork-Sub-Offset}: a non-negative integer. */
    static Long subOffset(String v) {
        if (v == null) {
            return null;
        }
        if (!NON_NEGATIVE.matcher(v.trim()).matches()) {
            throw Refusal.invalid("Stream-Fork-Sub-Offset must be a non-negative integer, got '" + v + "'");
        }
        return Long.parseLong(v.trim());
    }

    /** The fork source header names a stream path on this server. */
    static String forkSource(String v) {
        String t = v.trim();
        int scheme = t.indexOf("://");
        if (scheme > 0) {
            int slash = t.indexOf('/', scheme + 3);
            t = slash < 0 ? "/" : t.substring(slash);
        }
        if (!t.startsWith(PREFIX)) {
            throw Refusal.invalid(
                    "Stream-Forked-From must be a stream path starting with " + PREFIX + ", got '" + v + "'");
        }
        return streamPath(t);
    }

    private static String printable(String v) {
        StringBuilder sb = new StringBuilder();
        for (char c : v.toCharArray()) {
            sb.append(c < 0x20 || c == 0x7f ? '?' : c);
            if (sb.length() > 80) {
                return sb.append("...").toString();
            }
        }
        return sb.toString();
    }
}
