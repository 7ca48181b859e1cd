package dev.tether.http;

import dev.tether.stream.ContentTypes;
import dev.tether.stream.ReadFrom;
import dev.tether.stream.ReadResult;
import dev.tether.stream.Rejection;
import dev.tether.stream.StreamEngine;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;

/**
 * One SSE live tail (Durable Streams §5.8): reads a chunk, sends it as one {@code data} event
 * followed by a {@code control} event, and waits for the stream to move when caught up.
 *
 * <p>Backpressure: the session reads the next chunk only when the connection's write queue
 * (bounded) has room. A reader whose queue stays full longer than the slow-consumer timeout
 * is disconnected; it resumes from the last {@code streamNextOffset} it received, so a slow
 * reader never holds memory or other readers back.
 *
 * <p>Confined to the connection's event loop.
 */
final class SseSession {
    private static final int WRITE_QUEUE_BYTES = 1 << 20;
    private static final int SLICE_BYTES = 64 * 1024;

    private final StreamEngine engine;
    private final Cursors cursors;
    private final SseEvents events;
    private final SseSettings settings;
    private final HttpServerRequest req;
    private final HttpServerResponse res;
    private final Context context;
    private final LoopExecutor loop;
    private final String path;
    private String cursor;
    private boolean cursorSent;
    private boolean finished;
    private boolean ending;
    private Runnable unwatch = () -> {};
    private long keepAliveTimer = -1;
    private long slowTimer = -1;
    private long lifetimeTimer = -1;
    /** Bytes handed to the connection that the socket has not taken yet. */
    private long pendingBytes;
    /** What to do once a full queue drains below half. */
    private Runnable onDrained;
    /** Slices of events not yet handed to the connection. */
    private final java.util.ArrayDeque<Buffer> backlog = new java.util.ArrayDeque<>();

    SseSession(
            StreamEngine engine,
            Cursors cursors,
            SseEvents events,
            SseSettings settings,
            HttpServerRequest req,
            String path) {
        this.events = events;
        this.engine = engine;
        this.cursors = cursors;
        this.settings = settings;
        this.req = req;
        this.res = req.response();
        this.context = Vertx.currentContext();
        this.loop = LoopExecutor.current();
        this.path = path;
        this.cursor = req.getParam("cursor");
    }

    void start(ReadFrom from) {
        res.closeHandler(v -> finish());
        readFrom(from);
    }

    private void readFrom(ReadFrom from) {
        loop.adapt(engine.read(path, from)).onSuccess(this::deliver).onFailure(t -> {
            if (res.headWritten()) {
                finish();
                req.connection().close();
            } else {
                ErrorResponses.send(res, t);
            }
        });
    }

    private void deliver(ReadResult result) {
        if (finished || ending) {
            return;
        }
        switch (result) {
            case Rejection r -> {
                if (res.headWritten()) {
                    // The stream went away mid-tail (deleted, expired, or deleted and created again):
                    // say so before ending, rather than end as if the connection had just dropped.
                    send(gone(r));
                    end();
                } else {
                    ErrorResponses.send(res, r);
                }
            }
            case ReadResult.Data d -> {
                if (!res.headWritten()) {
                    open(d);
                }
                Buffer control = controlEvent(d);
                if (d.messages().isEmpty()) {
                    send(control);
                } else {
                    Buffer data = events.data(d);
                    // One write (one syscall) for a small pair; a large event is sent on its own.
                    send(data.length() < SLICE_BYTES ? data.copy().appendBuffer(control) : data);
                    if (data.length() >= SLICE_BYTES) {
                        send(control);
                    }
                }
                if (d.atEndOfClosedStream()) {
                    end();
                } else if (d.upToDate()) {
                    // Caught up, but the reader may not be: a full queue starts the slow-consumer clock.
                    afterWrite(() -> waitFor(d));
                } else {
                    afterWrite(() -> readFrom(new ReadFrom.At(d.nextOffset())));
                }
            }
        }
    }

    private void open(ReadResult.Data d) {
        res.setStatusCode(200);
        res.setChunked(true);
        res.putHeader("Content-Type", "text/event-stream");
        res.putHeader("Cache-Control", "no-cache");
        if (!ContentTypes.isTextual(d.stream().contentType())) {
            res.putHeader(ProtocolHeaders.SSE_ENCODING, "base64");
        }
        ProtocolHeaders.security(res);
        lifetimeTimer = context.owner().setTimer(settings.maxLifetimeMillis(), id -> end());
    }

    /** Caught up: wait for an append or close; send a keep-alive control event meanwhile. */
    private void waitFor(ReadResult.Data at) {
        keepAliveTimer = context.owner().setTimer(settings.keepAliveMillis(), id -> {
            if (!finished && !ending) {
                unwatch.run();
                send(controlEvent(at));
                afterWrite(() -> waitFor(at));
            }
        });
        unwatch = engine.watch(
                at.stream(),
                at.next(),
                () -> loop.execute(() -> {
                    if (!finished && !ending) {
                        context.owner().cancelTimer(keepAliveTimer);
                        afterWrite(() -> readFrom(new ReadFrom.At(at.nextOffset())));
                    }
                }));
    }

    /** Runs {@code next} once the write queue has room; disconnects a reader that stays full. */
    private void afterWrite(Runnable next) {
        if (!congested()) {
            next.run();
            return;
        }
        context.owner().cancelTimer(slowTimer);
        slowTimer = context.owner().setTimer(settings.slowConsumerMillis(), id -> {
            if (!finished) {
                finish();
                req.connection().close();
            }
        });
        onDrained = next;
    }

    /**
     * Queues an event in slices and writes them while fewer than {@link #WRITE_QUEUE_BYTES} are
     * waiting for the socket. Vert.x's writability flag is not enough: one large event would
     * sit in Netty's buffer whole; slices keep what a stalled reader pins to about the limit.
     */
    private void send(Buffer event) {
        for (int i = 0; i < event.length(); i += SLICE_BYTES) {
            backlog.add(event.slice(i, Math.min(event.length(), i + SLICE_BYTES)));
        }
        pump();
    }

    private void pump() {
        while (!finished && !backlog.isEmpty() && pendingBytes <= WRITE_QUEUE_BYTES) {
            Buffer slice = backlog.poll();
            int length = slice.length();
            pendingBytes += length;
            res.write(slice).onComplete(ar -> {
                pendingBytes -= length;
                pump();
                if (onDrained != null && !congested()) {
                    Runnable next = onDrained;
                    onDrained = null;
                    context.owner().cancelTimer(slowTimer);
                    next.run();
                }
            });
        }
    }

    private boolean congested() {
        return !backlog.isEmpty() || pendingBytes > WRITE_QUEUE_BYTES / 2;
    }

    /** The status and code a reconnect would be answered with; see {@link SseEvents#gone}. */
    private static Buffer gone(Rejection r) {
        return switch (r) {
            case Rejection.NotFound n -> SseEvents.gone(404, "not_found", n.message());
            case Rejection.Gone g -> SseEvents.gone(410, "gone", g.message());
            case Rejection.Invalid i -> SseEvents.gone(400, "bad_request", i.message());
            // Write-only refusals; a read never gets them.
            case Rejection.Conflict c -> SseEvents.gone(409, "conflict", c.message());
            case Rejection.StreamClosed c -> SseEvents.gone(409, "stream_closed", c.message());
            case Rejection.SequenceGap g -> SseEvents.gone(409, "producer_sequence_gap", g.message());
            case Rejection.StaleEpoch e -> SseEvents.gone(403, "producer_fenced", e.message());
        };
    }

    /** §5.8: a control event follows every data event, so a client always knows where it is. */
    private Buffer controlEvent(ReadResult.Data d) {
        if (d.atEndOfClosedStream()) {
            // §5.8: at the tail of a closed stream the reader is also up to date; clients such as
            // @durable-streams/client 0.2.7 announce the close only when both are set.
            return SseEvents.control(d.nextOffset(), null, true, true);
        }
        return SseEvents.control(d.nextOffset(), nextCursor(), d.upToDate(), false);
    }

    /**
     * The client's echoed cursor decides only the first value (§10.1 jitter); later events use
     * the current interval, never going below what this connection already sent.
     */
    private String nextCursor() {
        String current = cursors.next(cursorSent ? null : cursor);
        if (!cursorSent || Long.parseLong(current) > Long.parseLong(cursor)) {
            cursor = current;
        }
        cursorSent = true;
        return cursor;
    }

    /** Ends the response once the reader has taken what is queued (or the slow-consumer clock runs out). */
    private void end() {
        if (finished || ending) {
            return;
        }
        ending = true;
        unwatch.run();
        context.owner().cancelTimer(keepAliveTimer);
        afterWrite(() -> {
            finish();
            res.end();
        });
    }

    private void finish() {
        finished = true;
        backlog.clear();
        unwatch.run();
        context.owner().cancelTimer(keepAliveTimer);
        context.owner().cancelTimer(slowTimer);
        context.owner().cancelTimer(lifetimeTimer);
    }

    /** Timings of SSE sessions, in milliseconds. */
    record SseSettings(long keepAliveMillis, long maxLifetimeMillis, long slowConsumerMillis) {}
}
