package dev.tether.http;

import dev.tether.stream.ContentTypes;
import dev.tether.stream.Offset;
import dev.tether.stream.ReadResult;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Encodes SSE events (Durable Streams §5.8). A data event depends only on the stream and the
 * range read, so sessions tailing the same stream share one encoding: with a hundred readers
 * of one stream, an append is encoded once, not a hundred times. The cache is direct-mapped
 * (one slot per stream id modulo its size) and holds only small events, so it stays bounded.
 *
 * <p>Thread-safe; shared by all event loops. Buffers it returns must not be modified.
 */
final class SseEvents {
    private static final int SLOTS = 1024;
    private static final int MAX_CACHED_BYTES = 256 * 1024;
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
            new com.fasterxml.jackson.databind.ObjectMapper();

    private record Cached(long streamId, long from, long next, Buffer event) {}

    /** A small data event with the control event that follows it, as one write. */
    private record Pair(long streamId, long from, long next, boolean upToDate, String cursor, Buffer events) {}

    private final AtomicReferenceArray<Cached> cache = new AtomicReferenceArray<>(SLOTS);
    private final AtomicReferenceArray<Pair> pairs = new AtomicReferenceArray<>(SLOTS);

    /** The data event for a read; the first reader of a range encodes it, later ones share it. */
    Buffer data(ReadResult.Data d) {
        long id = d.stream().id();
        int slot = (int) Math.floorMod(id, (long) SLOTS);
        Cached c = cache.get(slot);
        if (c != null && c.streamId() == id && c.from() == d.from() && c.next() == d.next()) {
            return c.event();
        }
        Buffer event = encode(d);
        if (event.length() <= MAX_CACHED_BYTES) {
            cache.set(slot, new Cached(id, d.from(), d.next(), event));
        }
        return event;
    }

    /**
     * The data event of a small read followed by its control event, as one buffer: live tails of
     * one stream at the same offset and cursor (all of them, normally) share it, instead of each
     * formatting its own control event and copying the pair together. Null when the data event is
     * not small: it is then sent on its own, then the control event.
     *
     * @param smallBytes the largest data event sent together with its control event
     */
    Buffer dataAndControl(ReadResult.Data d, String cursor, int smallBytes) {
        long id = d.stream().id();
        int slot = (int) Math.floorMod(id, (long) SLOTS);
        Pair p = pairs.get(slot);
        if (p != null
                && p.streamId() == id
                && p.from() == d.from()
                && p.next() == d.next()
                && p.upToDate() == d.upToDate()
                && p.cursor().equals(cursor)) {
            return p.events();
        }
        Buffer data = data(d);
        if (data.length() >= smallBytes) {
            return null;
        }
        Buffer events = data.copy().appendBuffer(control(d.nextOffset(), cursor, d.upToDate(), false));
        pairs.set(slot, new Pair(id, d.from(), d.next(), d.upToDate(), cursor, events));
        return events;
    }

    static Buffer encode(ReadResult.Data d) {
        Buffer payload = ReadHandler.body(d.stream(), d.messages());
        Buffer out = Buffer.buffer(payload.length() + 64);
        out.appendString("event: data\n");
        if (ContentTypes.isTextual(d.stream().contentType())) {
            // §5.8: every line of the payload gets its own data: field, so CR/LF cannot inject events.
            String text = payload.toString(StandardCharsets.UTF_8);
            for (String line : text.split("\r\n|\r|\n", -1)) {
                out.appendString("data:").appendString(line).appendString("\n");
            }
        } else {
            out.appendString("data:")
                    .appendString(Base64.getEncoder().encodeToString(payload.getBytes()))
                    .appendString("\n");
        }
        return out.appendString("\n");
    }

    /**
     * Durable Streams defines only {@code data} and {@code control} events, and its clients skip
     * other types (§9 allows such pure-superset extensions). A stream deleted (or expired, or
     * re-created) under a live reader used to end the response with no word: this event says why,
     * as the status and error code a reconnect would get, before the response ends.
     */
    static Buffer gone(int status, String code, String message) {
        com.fasterxml.jackson.databind.node.ObjectNode error = JSON.createObjectNode();
        error.put("status", status).put("code", code).put("message", message);
        return Buffer.buffer("event: error\ndata:" + error + "\n\n");
    }

    /**
     * A control event; its fields are an offset, a decimal cursor and booleans, so plain
     * concatenation yields valid JSON.
     *
     * @param cursor the cursor, or null once the stream is closed
     */
    static Buffer control(Offset next, String cursor, boolean upToDate, boolean closed) {
        StringBuilder sb = new StringBuilder(128)
                .append("event: control\ndata:{\"streamNextOffset\":\"")
                .append(next)
                .append('"');
        if (cursor != null) {
            sb.append(",\"streamCursor\":\"").append(cursor).append('"');
        }
        if (upToDate) {
            sb.append(",\"upToDate\":true");
        }
        if (closed) {
            sb.append(",\"streamClosed\":true");
        }
        return Buffer.buffer(sb.append("}\n\n").toString());
    }
}
