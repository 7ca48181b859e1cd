package dev.tether.http;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayDeque;
import java.util.function.Function;

/**
 * The one bounded writer under every streaming transport (Durable Streams SSE, Responses SSE, the
 * Responses WebSocket): a reader that falls behind is disconnected with a reason and resumes from
 * its last offset or sequence number; the server never buffers without bound.
 *
 * <ul>
 *   <li>At most {@link Limits#socketBytes} are handed to the connection and not yet taken by the
 *       socket; the rest waits in a backlog. Vert.x's writability flag alone is not enough: one
 *       large event would sit in Netty's buffer whole, so sliceable payloads (SSE) are cut in
 *       {@link #SLICE_BYTES} pieces.
 *   <li>A pull-based producer (the stream SSE session) asks {@link #whenDrained} before reading
 *       more; a push-based one (a response's events) just sends. Either way, a connection that stays
 *       congested for {@link Limits#slowMillis}, or whose backlog passes {@link Limits#backlogBytes},
 *       is handed to {@code onSlow} (which disconnects it).
 * </ul>
 *
 * <p>Confined to the connection's event loop.
 */
final class BoundedWriter {
    static final int SLICE_BYTES = 64 * 1024;

    /**
     * @param socketBytes  bytes in flight to the socket before the writer holds back
     * @param backlogBytes bytes waiting behind those before the reader counts as too slow
     * @param slowMillis   how long a connection may stay congested
     */
    record Limits(long socketBytes, long backlogBytes, long slowMillis) {
        static Limits defaults(long slowMillis) {
            return new Limits(1 << 20, 8L << 20, slowMillis);
        }
    }

    private final Context context;
    private final Function<Buffer, Future<Void>> sink;
    private final boolean sliceable;
    private final Limits limits;
    private final Runnable onSlow;
    private final ArrayDeque<Buffer> backlog = new ArrayDeque<>();
    private long backlogBytes;
    private long pendingBytes;
    private Runnable onDrained;
    private long slowTimer = -1;
    private boolean closed;

    /**
     * @param sink      writes one piece to the connection; its future completes once the socket took it
     * @param sliceable whether a payload may be cut (SSE bytes) or must go whole (a WebSocket message)
     * @param onSlow    disconnects a reader found too slow (called once, then the writer is closed)
     */
    BoundedWriter(
            Context context, Function<Buffer, Future<Void>> sink, boolean sliceable, Limits limits, Runnable onSlow) {
        this.context = context;
        this.sink = sink;
        this.sliceable = sliceable;
        this.limits = limits;
        this.onSlow = onSlow;
    }

    /** Queues a payload and writes what the limits allow. */
    void send(Buffer payload) {
        if (closed) {
            return;
        }
        if (sliceable && payload.length() > SLICE_BYTES) {
            for (int i = 0; i < payload.length(); i += SLICE_BYTES) {
                backlog.add(payload.slice(i, Math.min(payload.length(), i + SLICE_BYTES)));
            }
        } else {
            backlog.add(payload);
        }
        backlogBytes += payload.length();
        pump();
        if (backlogBytes > limits.backlogBytes()) {
            slow();
        } else if (congested()) {
            armSlowTimer();
        }
    }

    /** Runs {@code next} once the connection has room again (at once if it has). */
    void whenDrained(Runnable next) {
        if (closed) {
            return;
        }
        if (!congested()) {
            next.run();
            return;
        }
        onDrained = next;
        armSlowTimer();
    }

    /** Whether the reader is behind: something waits, or more than half the socket allowance is in flight. */
    boolean congested() {
        return !backlog.isEmpty() || pendingBytes > limits.socketBytes() / 2;
    }

    /** Stops writing and forgets what was queued. */
    void close() {
        closed = true;
        backlog.clear();
        backlogBytes = 0;
        onDrained = null;
        cancelSlowTimer();
    }

    private void pump() {
        while (!closed && !backlog.isEmpty() && pendingBytes <= limits.socketBytes()) {
            Buffer piece = backlog.poll();
            int length = piece.length();
            backlogBytes -= length;
            pendingBytes += length;
            sink.apply(piece).onComplete(ar -> written(length));
        }
    }

    private void written(int length) {
        pendingBytes -= length;
        if (closed) {
            return;
        }
        pump();
        if (!congested()) {
            cancelSlowTimer();
            Runnable next = onDrained;
            onDrained = null;
            if (next != null) {
                next.run();
            }
        }
    }

    private void armSlowTimer() {
        if (slowTimer < 0) {
            slowTimer = context.owner().setTimer(limits.slowMillis(), id -> {
                slowTimer = -1;
                if (!closed && congested()) {
                    slow();
                }
            });
        }
    }

    private void cancelSlowTimer() {
        if (slowTimer >= 0) {
            context.owner().cancelTimer(slowTimer);
            slowTimer = -1;
        }
    }

    private void slow() {
        if (!closed) {
            close();
            onSlow.run();
        }
    }
}
