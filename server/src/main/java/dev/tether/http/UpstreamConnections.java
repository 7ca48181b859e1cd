package dev.tether.http;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientConnection;
import io.vertx.core.http.HttpConnectOptions;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The upstream client's connections, held by Tether instead of by Vert.x's pool: each event loop
 * keeps its own idle connections to each upstream, and a request takes one on the loop it leaves
 * from, with no lock and no hand-off. A turn's request is written about 0.1 ms sooner than through
 * the pool (docs/benchmarks.md, "held upstream connections").
 *
 * <p>A connection is given back only after a whole exchange ({@link UpstreamExchange}); one cut
 * short is closed instead. An idle connection the upstream closes leaves its loop's list when the
 * loop sees the close; one idle for longer than the keep-alive time (60 s, the default of Vert.x's
 * pool, or less when the upstream's {@code Keep-Alive} header says so) is closed when next met, or
 * by its loop's sweep every second, as Vert.x's pool did. A request that meets a close the loop has
 * not seen yet (the upstream closed the held connection as the request went out) fails with {@link
 * dev.tether.inference.upstream.UpstreamTransport.Stale}, which the upstream backend sends again at
 * once. Over {@code maxOpen} connections to one upstream, a request fails at once, where the pool
 * queued it.
 *
 * <p>Thread-safe: each loop's idle connections are confined to that loop ({@link #take} and
 * {@link #giveBack} run there); the counts of open connections, one per upstream, are shared.
 */
final class UpstreamConnections {
    /** What Vert.x's pool allowed per upstream (a turn holds one connection for its whole answer). */
    static final int MAX_OPEN = 4096;

    /** How often each loop closes its idle connections past their time, as Vert.x's pool did. */
    private static final long SWEEP_MILLIS = 1000;

    private final Vertx vertx;
    private final HttpClientAgent agent;
    private final long keepAliveNanos;
    private final int maxOpen;
    private final Map<Key, ArrayDeque<Idle>> idle = new ConcurrentHashMap<>();
    private final Set<HttpClientConnection> open = ConcurrentHashMap.newKeySet();
    private final Map<Origin, AtomicInteger> counts = new ConcurrentHashMap<>();
    private final Set<Long> sweeps = ConcurrentHashMap.newKeySet();
    private volatile boolean closing;

    /**
     * @param keepAlive how long an idle connection is kept for the next request
     * @param maxOpen   how many connections may be open at once to one upstream
     */
    UpstreamConnections(Vertx vertx, HttpClientAgent agent, Duration keepAlive, int maxOpen) {
        this.vertx = vertx;
        this.agent = agent;
        this.keepAliveNanos = keepAlive.toNanos();
        this.maxOpen = maxOpen;
    }

    /** Where a connection goes: scheme, host and port. */
    record Origin(boolean ssl, String host, int port) {
        static Origin of(URI uri) {
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            boolean ssl = scheme.equals("https");
            if (!ssl && !scheme.equals("http")) {
                throw new IllegalArgumentException("not an http:// or https:// URI: " + uri);
            }
            String host = uri.getHost();
            if (host == null) {
                throw new IllegalArgumentException("no host in " + uri);
            }
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1); // an IPv6 literal
            }
            return new Origin(ssl, host, uri.getPort() >= 0 ? uri.getPort() : ssl ? 443 : 80);
        }
    }

    /** A loop's thread (the connections a loop holds are bound to it) and an upstream. */
    private record Key(Thread loop, Origin origin) {}

    /** An idle connection, and the {@link System#nanoTime()} after which it is not taken. */
    private record Idle(HttpClientConnection connection, long until) {}

    /** A connection taken for a request, and whether it was held idle (it carried an earlier one). */
    record Taken(HttpClientConnection connection, boolean held) {}

    /**
     * On an event loop: an open connection to {@code origin} that this loop holds idle, else a new
     * one made on this loop. Fails when as many as allowed are open already, or the connection
     * cannot be made.
     */
    Future<Taken> take(Origin origin) {
        Key key = here(origin);
        ArrayDeque<Idle> list = idle.get(key);
        long now = System.nanoTime();
        for (Idle held; list != null && (held = list.pollLast()) != null; ) {
            if (now - held.until() < 0) {
                return Future.succeededFuture(new Taken(held.connection(), true));
            }
            held.connection().close(); // idle too long: the upstream may be closing it right now
        }
        AtomicInteger count = counts.computeIfAbsent(origin, o -> new AtomicInteger());
        if (count.incrementAndGet() > maxOpen) {
            count.decrementAndGet();
            return Future.failedFuture(new IOException(maxOpen + " connections to " + origin.host() + ":"
                    + origin.port() + " are open already: no more requests to it until one ends"));
        }
        Future<HttpClientConnection> made;
        try {
            made = agent.connect(new HttpConnectOptions()
                    .setHost(origin.host())
                    .setPort(origin.port())
                    .setSsl(origin.ssl()));
        } catch (RuntimeException e) { // a closed client throws rather than failing its future
            count.decrementAndGet();
            return Future.failedFuture(e);
        }
        return made.andThen(result -> {
                    if (result.failed()) {
                        count.decrementAndGet();
                        return;
                    }
                    HttpClientConnection connection = result.result();
                    open.add(connection);
                    connection.exceptionHandler(e -> {}); // each exchange hears of its own failure
                    connection.closeHandler(v -> {
                        open.remove(connection);
                        count.decrementAndGet();
                        ArrayDeque<Idle> mine = idle.get(key); // on the loop that made it
                        if (mine != null) {
                            mine.removeIf(held -> held.connection() == connection);
                        }
                    });
                })
                .map(connection -> new Taken(connection, false));
    }

    /**
     * On the loop that took {@code connection}, after a whole exchange: it may carry the next
     * request for the keep-alive time, or for the time the upstream said it keeps it ({@code
     * upstreamSeconds}, from {@code Keep-Alive: timeout=N}; negative when it said nothing) less
     * half a second, so that a request does not leave as the upstream closes it.
     */
    void giveBack(Origin origin, HttpClientConnection connection, long upstreamSeconds) {
        if (!open.contains(connection)) {
            return; // closed already
        }
        long keep = keepAliveNanos;
        if (upstreamSeconds >= 0) {
            keep = Math.min(keep, TimeUnit.SECONDS.toNanos(upstreamSeconds) - TimeUnit.MILLISECONDS.toNanos(500));
        }
        if (keep <= 0) {
            connection.close();
            return;
        }
        idle.computeIfAbsent(here(origin), k -> {
                    ArrayDeque<Idle> list = new ArrayDeque<>();
                    // set on this loop, so it fires here, where the list is confined
                    sweeps.add(vertx.setPeriodic(SWEEP_MILLIS, id -> sweep(list)));
                    return list;
                })
                .addLast(new Idle(connection, System.nanoTime() + keep));
    }

    /** On a list's loop: closes its idle connections past their time. */
    private static void sweep(ArrayDeque<Idle> list) {
        long now = System.nanoTime();
        list.removeIf(held -> {
            if (now - held.until() < 0) {
                return false;
            }
            held.connection().close();
            return true;
        });
    }

    private static Key here(Origin origin) {
        if (!Context.isOnEventLoopThread()) {
            throw new IllegalStateException("upstream connections are taken and given back on an event loop");
        }
        return new Key(Thread.currentThread(), origin);
    }

    /** How many connections are open, idle or in use, to every upstream. */
    int open() {
        return counts.values().stream().mapToInt(AtomicInteger::get).sum();
    }

    /**
     * On a loop, after a held connection to {@code origin} closed under a request: closes the other
     * connections this loop holds idle to it, so that the request sent again does not meet another
     * (they have been idle about as long, past what the upstream keeps).
     */
    void dropIdle(Origin origin) {
        ArrayDeque<Idle> list = idle.get(here(origin));
        for (Idle held; list != null && (held = list.pollLast()) != null; ) {
            held.connection().close();
        }
    }

    /** Whether {@link #close} has begun: a connection it closes is not an upstream's doing. */
    boolean closing() {
        return closing;
    }

    /** Closes every connection; exchanges still open fail. */
    Future<Void> close() {
        closing = true;
        for (long id : sweeps) {
            vertx.cancelTimer(id);
        }
        for (HttpClientConnection connection : open) {
            connection.close();
        }
        return agent.close();
    }
}
