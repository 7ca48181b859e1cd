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
import java.util.concurrent.TimeUnit;

/**
 * One SSE live tail (Durable Streams §5.8): reads a chunk, sends it as one {@code data} event
 * followed by a {@code control} event, and waits for the stream to move when caught up.
 *
 * <p>Backpressure: the session reads the next chunk only when its {@link BoundedWriter} has room.
 * A reader whose connection stays full longer than the slow-consumer timeout is disconnected; it
 * resumes from the last {@code streamNextOffset} it received, so a slow reader never holds memory
 * or other readers back.
 *
 * <p>Confined to the connection's event loop.
 */
final class SseSession {
    private final StreamEngine engine;
    private final Cursors cursors;
    private final SseEvents events;
    private final SseSettings settings;
    private final HttpServerRequest req;
    private final HttpServerResponse res;
    private final Context context;
    private final LoopExecutor loop;
    private final String path;
    /** What this reader may not see, or null. */
    private final ReadFilter filter;
    /** Runs once when the session finishes (a session reader's device leaves). */
    private final Runnable onEnd;

    private String cursor;
    /** {@link #cursor} as a number, once sent. */
    private long cursorValue;

    private boolean cursorSent;
    private boolean finished;
    private boolean ending;
    private Runnable unwatch = () -> {};
    private long keepAliveTimer = -1;
    /** The current wait at the tail, claimed by whichever of its wake-up and keep-alive comes first. */
    private Wait waiting;

    private long lifetimeTimer = -1;
    private final BoundedWriter writer;
    /** Counts this session among the open SSE connections until it finishes. */
    private Runnable counted = () -> {};

    SseSession(
            StreamEngine engine,
            Cursors cursors,
            SseEvents events,
            SseSettings settings,
            HttpServerRequest req,
            String path,
            ReadFilter filter,
            Runnable onEnd) {
        this.filter = filter;
        this.onEnd = onEnd == null ? () -> {} : onEnd;
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
        this.writer = new BoundedWriter(
                context, res::write, true, BoundedWriter.Limits.defaults(settings.slowConsumerMillis()), () -> {
                    HttpMetrics.current().slowReader("sse");
                    finish();
                    req.connection().close();
                });
    }

    void start(ReadFrom from) {
        counted = HttpMetrics.current().opened(false);
        res.closeHandler(v -> finish());
        readFrom(from);
    }

    private void readFrom(ReadFrom from) {
        // After the first read this session follows the stream: its watcher's wake-up is fresh.
        loop.adapt(res.headWritten() ? engine.follow(path, from) : engine.read(path, from))
                .onSuccess(this::deliver)
                .onFailure(t -> {
                    if (res.headWritten()) {
                        finish();
                        req.connection().close();
                    } else {
                        ErrorResponses.send(res, t);
                        finish(); // never opened: what it counts (a session device) ends with the refusal
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
                    finish();
                }
            }
            case ReadResult.Data raw -> {
                ReadResult.Data d = filter == null ? raw : filter.apply(raw);
                if (!res.headWritten()) {
                    open(d);
                }
                String cursor = d.atEndOfClosedStream() ? null : nextCursor();
                // One write (one syscall) for a small pair; a large event is sent on its own. Live
                // tails at the same place share the pair; a filtered read is this reader's own:
                // never from (or into) the shared cache.
                Buffer pair = d == raw && cursor != null && !d.messages().isEmpty()
                        ? events.dataAndControl(d, cursor, BoundedWriter.SLICE_BYTES)
                        : null;
                if (pair != null) {
                    send(pair);
                } else if (d.messages().isEmpty()) {
                    send(controlEvent(d, cursor));
                } else {
                    Buffer data = d == raw ? events.data(d) : SseEvents.encode(d);
                    Buffer control = controlEvent(d, cursor);
                    boolean small = data.length() < BoundedWriter.SLICE_BYTES;
                    send(small ? data.copy().appendBuffer(control) : data);
                    if (!small) {
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
        // The wake-up and the keep-alive race (the wake-up hops through the loop's task queue, which
        // may run it after the timer): only the first of the two may act, or two reads from the
        // same offset would send the same data twice.
        Wait wait = new Wait(at, System.nanoTime());
        waiting = wait;
        if (keepAliveTimer < 0) {
            armKeepAlive(settings.keepAliveMillis());
        }
        unwatch = engine.watch(
                at.stream(),
                at.next(),
                () -> loop.execute(() -> {
                    if (!finished && !ending && waiting == wait) {
                        waiting = null; // the keep-alive timer stays armed: it checks again when it fires
                        afterWrite(() -> readFrom(new ReadFrom.At(at.nextOffset())));
                    }
                }));
    }

    /**
     * One keep-alive timer per session, armed once and moved on lazily: a busy tail (an event
     * every few milliseconds) would otherwise set and cancel a timer per event, which profiling
     * showed to be a tenth of the event loop's time with a hundred tails.
     */
    private void armKeepAlive(long delayMillis) {
        keepAliveTimer = context.owner().setTimer(delayMillis, id -> keepAliveDue());
    }

    /** Sends a keep-alive if the current wait has lasted the keep-alive interval; otherwise checks again later. */
    private void keepAliveDue() {
        keepAliveTimer = -1;
        if (finished || ending) {
            return;
        }
        long interval = settings.keepAliveMillis();
        Wait wait = waiting;
        long waited = wait == null ? 0 : TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - wait.since());
        if (wait == null || waited < interval) {
            // busy sending (the next wait arms nothing), or waiting for less than the interval so far
            armKeepAlive(Math.max(1, interval - waited));
            return;
        }
        waiting = null;
        unwatch.run();
        send(controlEvent(wait.at(), nextCursor()));
        afterWrite(() -> waitFor(wait.at()));
    }

    /** A wait at the tail: where, and since when ({@link System#nanoTime}). */
    private record Wait(ReadResult.Data at, long since) {}

    /** Runs {@code next} once the connection has room; the writer disconnects a reader that stays full. */
    private void afterWrite(Runnable next) {
        writer.whenDrained(next);
    }

    private void send(Buffer event) {
        writer.send(event);
    }

    /** The status and code a reconnect would be answered with (the error table's); see {@link SseEvents#gone}. */
    private static Buffer gone(Rejection r) {
        ErrorTable.Problem p = ErrorTable.describe(r);
        return SseEvents.gone(p.status(), p.code(), p.message());
    }

    /**
     * §5.8: a control event follows every data event, so a client always knows where it is.
     *
     * @param cursor the cursor to send ({@link #nextCursor}); ignored at the end of a closed stream
     */
    private static Buffer controlEvent(ReadResult.Data d, String cursor) {
        if (d.atEndOfClosedStream()) {
            // §5.8: at the tail of a closed stream the reader is also up to date; clients such as
            // @durable-streams/client 0.2.7 announce the close only when both are set.
            return SseEvents.control(d.nextOffset(), null, true, true);
        }
        return SseEvents.control(d.nextOffset(), cursor, d.upToDate(), false);
    }

    /**
     * The client's echoed cursor decides only the first value (§10.1 jitter); later events use
     * the current interval, never going below what this connection already sent.
     */
    private String nextCursor() {
        if (!cursorSent) {
            cursor = cursors.next(cursor);
            cursorValue = Long.parseLong(cursor);
            cursorSent = true;
        } else {
            Cursors.Current current = cursors.current();
            if (current.interval() > cursorValue) {
                cursor = current.text();
                cursorValue = current.interval();
            }
        }
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
        if (!finished) {
            onEnd.run();
        }
        finished = true;
        counted.run();
        writer.close();
        unwatch.run();
        context.owner().cancelTimer(keepAliveTimer);
        context.owner().cancelTimer(lifetimeTimer);
    }

    /** Timings of SSE sessions, in milliseconds. */
    record SseSettings(long keepAliveMillis, long maxLifetimeMillis, long slowConsumerMillis) {}
}
