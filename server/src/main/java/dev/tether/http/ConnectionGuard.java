package dev.tether.http;

import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Bounds connections and the time a client may take (finding 12 of the outside probe: 21,000 idle
 * connects exhausted the file descriptors; a thousand clients trickling one header byte a second
 * were never closed):
 *
 * <ul>
 *   <li>At most {@code maxConnections} are open; one more is closed at once (nginx's {@code
 *       worker_connections}, Redis's {@code maxclients}).
 *   <li>A new connection must deliver its request headers within the header timeout.
 *   <li>A request's body must arrive within the body timeout.
 *   <li>A keep-alive connection with nothing in flight is closed after the idle timeout. Requests in
 *       flight (long-polls, SSE) and WebSockets manage their own lifetimes.
 * </ul>
 *
 * <p>Thread-safe: counters are atomic; each connection's state is touched only on its event loop.
 */
final class ConnectionGuard {
    private static final System.Logger LOG = System.getLogger(ConnectionGuard.class.getName());
    private static final int CEILING = 10_000;
    /** Descriptors kept for the store, the model, logs and outgoing connections. */
    private static final int RESERVED_FDS = 512;

    private final int maxConnections;
    private final long headerMillis;
    private final long bodyMillis;
    private final long idleMillis;
    private final AtomicInteger open = new AtomicInteger();
    private final LongAdder refused = new LongAdder();
    private final LongAdder timedOut = new LongAdder();
    private final Map<HttpConnection, State> states = new ConcurrentHashMap<>();

    /**
     * One connection's progress. Written on the connection's event loop, read by the sweep.
     *
     * <p>{@code deadline}: when the connection must have sent request headers (0: none pending).
     */
    private static final class State {
        volatile long deadline;
        volatile int inFlight;
        volatile boolean upgraded;
        volatile HttpServerRequest bodyPending;
        volatile long bodyDeadline;
        volatile boolean closing;
    }

    ConnectionGuard(int maxConnections, long headerMillis, long bodyMillis, long idleMillis) {
        this.maxConnections = maxConnections > 0 ? maxConnections : defaultMax();
        this.headerMillis = headerMillis;
        this.bodyMillis = bodyMillis;
        this.idleMillis = idleMillis;
    }

    /** The file-descriptor limit less a reserve, at most {@value #CEILING}. */
    static int defaultMax() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
            long fds = unix.getMaxFileDescriptorCount();
            return (int) Math.max(64, Math.min(CEILING, fds - RESERVED_FDS));
        }
        return CEILING;
    }

    int maxConnections() {
        return maxConnections;
    }

    int open() {
        return open.get();
    }

    long refused() {
        return refused.sum();
    }

    long timedOut() {
        return timedOut.sum();
    }

    /**
     * A new connection: refused over the limit, otherwise given the header timeout. The caller
     * must call {@link #closed} when its channel closes (Vert.x's connection close handler is not
     * enough: a WebSocket upgrade replaces it, and the slot would never be given back).
     */
    void opened(HttpConnection conn, long now) {
        if (open.incrementAndGet() > maxConnections) {
            open.decrementAndGet();
            refused.increment();
            if (refused.sum() % 1000 == 1) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "refusing connections: " + maxConnections + " are open (--max-connections)");
            }
            conn.close();
            return;
        }
        State state = new State();
        state.deadline = now + headerMillis;
        states.put(conn, state);
    }

    /** The connection's channel closed: its slot is free again (idempotent). */
    void closed(HttpConnection conn) {
        if (states.remove(conn) != null) {
            open.decrementAndGet();
        }
    }

    /** A request's headers arrived: no deadline while it is handled, except for its body. */
    void request(HttpServerRequest req, long now) {
        State state = states.get(req.connection());
        if (state == null) {
            return;
        }
        state.deadline = 0;
        state.inFlight++;
        if ("websocket".equalsIgnoreCase(req.getHeader("Upgrade"))) {
            state.upgraded = true; // the socket's own age and token limits apply from here
        }
        if (!req.isEnded()) {
            state.bodyPending = req;
            state.bodyDeadline = now + bodyMillis;
        }
        req.response().endHandler(v -> {
            state.inFlight--;
            if (state.bodyPending == req) {
                state.bodyPending = null;
            }
            if (state.inFlight == 0 && !state.upgraded) {
                state.deadline = System.currentTimeMillis() + idleMillis;
            }
        });
    }

    /**
     * Closes the connections past a deadline; run about once a second. One sweep instead of a timer
     * per request keeps the cost off the request path.
     */
    void sweep(long now) {
        states.forEach((conn, state) -> {
            HttpServerRequest body = state.bodyPending;
            boolean headerOrIdle = state.deadline > 0 && now >= state.deadline && state.inFlight == 0;
            boolean slowBody = body != null && now >= state.bodyDeadline && !body.isEnded();
            if (!state.upgraded && !state.closing && (headerOrIdle || slowBody)) {
                state.closing = true; // the close listener frees the slot
                timedOut.increment();
                conn.close();
            }
        });
    }
}
