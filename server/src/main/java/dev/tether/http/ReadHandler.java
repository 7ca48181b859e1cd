package dev.tether.http;

import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.stream.ContentTypes;
import dev.tether.stream.Lookup;
import dev.tether.stream.Offset;
import dev.tether.stream.ReadFrom;
import dev.tether.stream.ReadResult;
import dev.tether.stream.Rejection;
import dev.tether.stream.StreamEngine;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.internal.buffer.BufferInternal;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * HEAD, catch-up GET and long-poll GET (Durable Streams §5.5–5.7).
 *
 * <p>Stateless; each request and its long-poll wait run on the connection's event loop.
 */
final class ReadHandler {
    private final StreamEngine engine;
    private final Cursors cursors;
    private final long longPollMillis;

    ReadHandler(StreamEngine engine, Cursors cursors, Duration longPollTimeout) {
        this.engine = engine;
        this.cursors = cursors;
        this.longPollMillis = longPollTimeout.toMillis();
    }

    void head(HttpServerRequest req, String path) {
        HttpServerResponse res = req.response();
        switch (engine.lookup(path)) {
            case Lookup.Found f -> {
                StreamRecord s = f.stream();
                WriteHandler.streamHeaders(res, s);
                if (s.ttlSeconds() != null) {
                    res.putHeader(ProtocolHeaders.TTL, Long.toString(s.ttlSeconds()));
                }
                if (s.expiresAtMillis() != null) {
                    res.putHeader(
                            ProtocolHeaders.EXPIRES_AT,
                            Instant.ofEpochMilli(s.expiresAtMillis()).toString());
                }
                res.putHeader("ETag", etag(s, null, s.tail()));
                res.putHeader("Cache-Control", "no-store");
                ProtocolHeaders.security(res);
                res.setStatusCode(200).end();
            }
            case Rejection r -> ErrorResponses.send(res, r);
        }
    }

    /** @param filter what this reader may not see, or null */
    void get(HttpServerRequest req, String path, ReadFilter filter) {
        ReadFrom from = StreamRequests.readOffset(req, false);
        read(req, path, from, false, filter, false);
    }

    void longPoll(HttpServerRequest req, String path, ReadFilter filter) {
        ReadFrom from = StreamRequests.readOffset(req, true);
        read(req, path, from, true, filter, false);
    }

    /** @param woken the read follows a watcher's wake-up (see {@link StreamEngine#follow}) */
    private void read(
            HttpServerRequest req, String path, ReadFrom from, boolean live, ReadFilter filter, boolean woken) {
        LoopExecutor.current()
                .adapt(
                        woken
                                ? engine.follow(path, from)
                                : live || filter != null ? engine.read(path, from) : engine.catchUp(path, from))
                .onSuccess(result -> {
                    switch (result) {
                        case ReadResult.Data d
                        when live && d.messages().isEmpty() && !d.stream().closed() ->
                            waitForData(req, path, d, filter);
                        case ReadResult.Data d when live && d.messages().isEmpty() -> noContent(req, d);
                        case ReadResult.Data d -> data(req, filter == null ? d : filter.apply(d), from, live, filter);
                        case Rejection r -> ErrorResponses.send(req.response(), r);
                    }
                })
                .onFailure(t -> ErrorResponses.send(req.response(), t));
    }

    /** Long-poll at the tail: wake on the stream's own append or close, else 204 on timeout. */
    private void waitForData(HttpServerRequest req, String path, ReadResult.Data at, ReadFilter filter) {
        var context = Vertx.currentContext();
        var loop = LoopExecutor.current();
        var done = new boolean[1];
        Runnable[] cancel = new Runnable[1];
        long timer = context.owner().setTimer(longPollMillis, id -> {
            if (!done[0]) {
                done[0] = true;
                cancel[0].run();
                if (movedSince(path, at)) {
                    // the stream changed and its wake-up is still on its way: answer what it is now
                    read(req, path, new ReadFrom.At(at.nextOffset()), true, filter, true);
                } else {
                    noContent(req, at);
                }
            }
        });
        cancel[0] = engine.watch(
                at.stream(),
                at.next(),
                () -> loop.execute(() -> {
                    if (!done[0]) {
                        done[0] = true;
                        context.owner().cancelTimer(timer);
                        // By offset, not position: if the path was deleted and created again meanwhile,
                        // the reader gets 410 instead of the new stream's bytes.
                        read(req, path, new ReadFrom.At(at.nextOffset()), true, filter, true);
                    }
                }));
        req.response().closeHandler(v -> {
            done[0] = true;
            context.owner().cancelTimer(timer);
            cancel[0].run();
        });
    }

    /**
     * Whether the stream at {@code path} is no longer as {@code at} found it, open at its tail: it
     * grew, closed, or went away (this node's view, as a wake-up would have it).
     */
    private boolean movedSince(String path, ReadResult.Data at) {
        if (!(engine.peek(path) instanceof Lookup.Found found)) {
            return true;
        }
        StreamRecord now = found.stream();
        return now.id() != at.stream().id() || now.closed() || now.tail() > at.next();
    }

    /** §5.7: 204 at the tail, immediately when the stream is closed. */
    private void noContent(HttpServerRequest req, ReadResult.Data at) {
        HttpServerResponse res = req.response();
        if (res.ended() || res.closed()) {
            return;
        }
        res.putHeader(ProtocolHeaders.NEXT_OFFSET, at.nextOffset().toString());
        res.putHeader(ProtocolHeaders.UP_TO_DATE, "true");
        if (at.stream().closed()) {
            res.putHeader(ProtocolHeaders.CLOSED, "true");
        } else {
            res.putHeader(ProtocolHeaders.CURSOR, cursors.next(req.getParam("cursor")));
        }
        res.putHeader("Cache-Control", "no-store");
        ProtocolHeaders.security(res);
        res.setStatusCode(204).end();
    }

    private void data(HttpServerRequest req, ReadResult.Data d, ReadFrom requested, boolean live, ReadFilter filter) {
        HttpServerResponse res = req.response();
        boolean now = requested instanceof ReadFrom.Tail;
        String etag = etag(d.stream(), requested instanceof ReadFrom.Start ? null : d.from(), d.next());
        if (filter != null) {
            etag = etag.substring(0, etag.length() - 1) + filter.etagSuffix() + "\"";
        }
        res.putHeader("Content-Type", d.stream().contentType());
        res.putHeader(ProtocolHeaders.NEXT_OFFSET, d.nextOffset().toString());
        if (d.upToDate()) {
            res.putHeader(ProtocolHeaders.UP_TO_DATE, "true");
        }
        if (d.atEndOfClosedStream()) {
            res.putHeader(ProtocolHeaders.CLOSED, "true");
        }
        if (live || !d.stream().closed()) {
            res.putHeader(ProtocolHeaders.CURSOR, cursors.next(req.getParam("cursor")));
        }
        ProtocolHeaders.security(res);
        if (now) {
            // §5.6: offset=now is a position query, never cached and without an ETag.
            res.putHeader("Cache-Control", "no-store");
        } else {
            res.putHeader("ETag", etag);
            res.putHeader(
                    "Cache-Control", d.upToDate() ? "no-cache" : "private, max-age=60, stale-while-revalidate=300");
            if (matches(req.getHeader("If-None-Match"), etag)) {
                res.setStatusCode(304).end();
                return;
            }
        }
        if (d.pieces() != null) {
            PiecedBody.send(res.setStatusCode(200), d);
        } else {
            endWithBody(res.setStatusCode(200), d.stream(), d.messages());
        }
    }

    /** The body of a read of {@code messages} (for SSE, which re-frames it). */
    static Buffer body(StreamRecord stream, List<StoredMessage> messages) {
        ByteBuf out = Unpooled.buffer(bodySize(stream, messages));
        writeBody(out, stream, messages);
        return BufferInternal.buffer(out);
    }

    /**
     * Ends {@code res} with the body of {@code messages}, written into a pooled direct buffer that
     * is released once the write is done: a catch-up of a megabyte then costs no heap buffer (a
     * zeroed, humongous G1 allocation) and no copy of it for Netty to make on the way to the socket.
     */
    private static void endWithBody(HttpServerResponse res, StreamRecord stream, List<StoredMessage> messages) {
        int size = bodySize(stream, messages);
        ByteBuf out = ByteBufAllocator.DEFAULT.directBuffer(size, size);
        try {
            writeBody(out, stream, messages);
        } catch (RuntimeException e) {
            out.release();
            throw e;
        }
        // Vert.x writes a non-heap buffer as an unreleasable slice, so it stays ours to release.
        res.end(BufferInternal.buffer(out)).onComplete(done -> out.release());
    }

    /** JSON mode (§9.1): the messages as one array; otherwise their bytes back to back. */
    private static int bodySize(StreamRecord stream, List<StoredMessage> messages) {
        int size = ContentTypes.isJson(stream.contentType()) ? 2 + Math.max(0, messages.size() - 1) : 0;
        for (StoredMessage m : messages) {
            size += m.length();
        }
        return size;
    }

    private static void writeBody(ByteBuf out, StreamRecord stream, List<StoredMessage> messages) {
        boolean json = ContentTypes.isJson(stream.contentType());
        if (json) {
            out.writeByte('[');
        }
        for (int i = 0; i < messages.size(); i++) {
            if (json && i > 0) {
                out.writeByte(',');
            }
            out.writeBytes(messages.get(i).data());
        }
        if (json) {
            out.writeByte(']');
        }
    }

    /** §10: identifies the stream, the range and closure, so a close alone changes it. */
    static String etag(StreamRecord s, Long from, long next) {
        return "\"" + s.id() + ":" + (from == null ? "-1" : new Offset(s.id(), from).toString()) + ":"
                + new Offset(s.id(), next) + (s.closed() ? ":c" : "") + "\"";
    }

    private static boolean matches(String ifNoneMatch, String etag) {
        if (ifNoneMatch == null) {
            return false;
        }
        for (String candidate : ifNoneMatch.split(",")) {
            String c = candidate.trim();
            if (c.startsWith("W/")) {
                c = c.substring(2);
            }
            if (c.equals(etag) || c.equals("*")) {
                return true;
            }
        }
        return false;
    }
}
