package dev.tether.http;

import dev.tether.errors.Condition;
import dev.tether.http.ErrorTable.Problem;
import dev.tether.metrics.Metrics;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the HTTP layer reports to {@link Metrics}: open SSE and WebSocket connections, slow readers
 * cut off, every error rendered (by condition), and authentication failures. Found from the
 * current event loop's Vert.x instance, so the static error renderers and each connection's
 * writer report to the server they belong to (tests run several in one JVM).
 *
 * <p>Thread-safe.
 */
final class HttpMetrics {
    private static final Map<Vertx, HttpMetrics> BY_VERTX = new ConcurrentHashMap<>();
    private static final HttpMetrics NONE = new HttpMetrics(null);

    private final Metrics metrics;
    private final AtomicInteger sse = new AtomicInteger();
    private final AtomicInteger websockets = new AtomicInteger();

    private HttpMetrics(Metrics metrics) {
        this.metrics = metrics;
        if (metrics != null) {
            metrics.connections("sse", sse, AtomicInteger::get);
            metrics.connections("websocket", websockets, AtomicInteger::get);
        }
    }

    /** Registers the metrics of the server running on {@code vertx}. */
    static HttpMetrics register(Vertx vertx, Metrics metrics) {
        HttpMetrics m = new HttpMetrics(metrics);
        BY_VERTX.put(vertx, m);
        return m;
    }

    static void unregister(Vertx vertx) {
        BY_VERTX.remove(vertx);
    }

    /** The metrics of the server whose event loop is running, or a no-op. */
    static HttpMetrics current() {
        Context context = Vertx.currentContext();
        HttpMetrics m = context == null ? null : BY_VERTX.get(context.owner());
        return m != null ? m : NONE;
    }

    /** Counts a live connection of {@code kind} until {@code closed} runs. */
    Runnable opened(boolean websocket) {
        AtomicInteger gauge = websocket ? websockets : sse;
        gauge.incrementAndGet();
        boolean[] done = new boolean[1];
        return () -> {
            if (!done[0]) {
                done[0] = true;
                gauge.decrementAndGet();
            }
        };
    }

    void slowReader(String transport) {
        if (metrics != null) {
            metrics.slowReaderDisconnected(transport);
        }
    }

    /** Every rendered error, by condition; refused credentials and capabilities are auth failures too. */
    void problem(Problem p) {
        if (metrics == null) {
            return;
        }
        metrics.httpError(p.condition().name().toLowerCase(java.util.Locale.ROOT));
        if (p.condition() == Condition.UNAUTHENTICATED) {
            metrics.authFailure(p.code());
        } else if (p.condition() == Condition.FORBIDDEN && p.code().equals("missing_capability")) {
            metrics.authFailure("forbidden");
        }
    }
}
