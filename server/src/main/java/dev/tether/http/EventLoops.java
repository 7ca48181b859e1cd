package dev.tether.http;

import io.vertx.core.Context;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The node's one Vert.x instance, and the network transport under its event loops: the HTTP API's
 * servers, the upstream client and the cluster forwarder all run on these loops. The server owns
 * it: made before anything else is opened, closed after everything that uses it.
 *
 * <p>One instance rather than one for the API and one for the upstream client (until 2026-12-06):
 * an upstream answer is then read on the loop of the connection that started its turn, so its
 * events reach that client with no hop between threads, and the turn's request leaves from that
 * loop too. On the gateway bench, overhead per turn and CPU per request were each lower in 12 of
 * 18 mode-pairs, by about this VM's spread (docs/benchmarks.md, "one Vert.x instance").
 *
 * <p>The transport is Netty's native epoll on Linux, where it loads, JDK NIO elsewhere or when
 * {@value #PROPERTY}{@code =nio} asks for it. On the append load, one build on epoll and on NIO
 * came within the spread of each other (docs/benchmarks.md, "the native epoll transport"): epoll is
 * the default as Netty's own transport for Linux, not for a measured gain.
 *
 * <p>Thread-safe.
 */
public final class EventLoops implements AutoCloseable {
    /** The system property that chooses the transport: {@code native} (the default) or {@code nio}. */
    static final String PROPERTY = "tether.transport";

    private static final System.Logger LOG = System.getLogger(EventLoops.class.getName());

    /**
     * The event loop a thread was started from, inherited by every thread it starts: a response's
     * run, started by the loop its request came in on, sends its upstream request from that loop.
     * A thread that a loop (or such a thread) starts for longer work, such as a pool's worker,
     * keeps that loop as its home: it only decides where that thread's upstream requests leave.
     */
    private static final InheritableThreadLocal<Context> HOME = new InheritableThreadLocal<>();

    private final Vertx vertx;
    /**
     * A context on each loop, taken in turn by callers that have no home here ({@link #forCaller}).
     * Work started from a caller's own thread attached its callbacks there too; a caller
     * descheduled between the two calls attached them to a future that had already completed, so
     * they ran as a later task, by when a small body had ended: Vert.x then refused the body
     * handlers and the answer never came (seen once in CI as a 10 s timeout on {@code GET
     * /v1/models}). Started on a loop, the callbacks are in place before any reply.
     */
    private final List<Context> contexts;

    private final AtomicInteger next = new AtomicInteger();

    private EventLoops(Vertx vertx, List<Context> contexts) {
        this.vertx = vertx;
        this.contexts = contexts;
    }

    /**
     * Starts {@code loops} event loops on the transport {@value #PROPERTY} chooses; logs why when
     * native was asked for and could not load.
     *
     * @throws IllegalArgumentException when {@value #PROPERTY} names no transport
     */
    public static EventLoops start(int loops) throws Exception {
        Vertx vertx = create(loops, new VertxOptions(), System.getProperty(PROPERTY));
        try {
            // Each instance of a deployment gets the next loop: a context on each.
            List<Context> contexts = new CopyOnWriteArrayList<>();
            vertx.deployVerticle(
                            () -> new VerticleBase() {
                                @Override
                                public Future<?> start() {
                                    contexts.add(context);
                                    return Future.succeededFuture();
                                }
                            },
                            new DeploymentOptions().setInstances(loops))
                    .await(30, TimeUnit.SECONDS);
            return new EventLoops(vertx, List.copyOf(contexts));
        } catch (Exception | Error e) {
            vertx.close();
            throw e;
        }
    }

    /** Tests: a Vert.x instance on {@code transport} in place of the property's value. */
    static Vertx create(int loops, VertxOptions options, String transport) {
        boolean preferNative = preferNative(transport);
        Vertx vertx = Vertx.vertx(options.setEventLoopPoolSize(loops).setPreferNativeTransport(preferNative));
        if (preferNative && !vertx.isNativeTransportEnabled()) {
            Throwable cause = vertx.unavailableNativeTransportCause();
            LOG.log(
                    System.Logger.Level.WARNING,
                    "the native network transport could not load, using JDK NIO" + (cause == null ? "" : ": " + cause));
        }
        return vertx;
    }

    Vertx vertx() {
        return vertx;
    }

    /** How many event loops there are. */
    int count() {
        return contexts.size();
    }

    /** Where the calling thread's work goes: its home loop when that is one of these, else the next loop in turn. */
    Context forCaller() {
        Context home = home();
        if (home != null && home.owner() == vertx) {
            return home;
        }
        return contexts.get(Math.floorMod(next.getAndIncrement(), contexts.size()));
    }

    /** The transport under the loops, as {@code epoll} or {@code nio} (for the start-up line). */
    public String transport() {
        return describe(vertx);
    }

    static String describe(Vertx vertx) {
        return vertx.isNativeTransportEnabled() ? "epoll" : "nio";
    }

    /** Makes {@code context} the home of the calling thread, its event loop, and of the threads it starts. */
    static void home(Context context) {
        HOME.set(context);
    }

    /** The event loop the calling thread, or the thread that started it, runs on; null when neither is one. */
    static Context home() {
        return HOME.get();
    }

    /** Stops the loops; whatever still used them is closed with them. */
    @Override
    public void close() {
        try {
            vertx.close().await(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "the event loops did not stop cleanly: " + e);
        }
    }

    private static boolean preferNative(String value) {
        if (value == null) {
            return true;
        }
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "native", "epoll" -> true;
            case "nio" -> false;
            default ->
                throw new IllegalArgumentException("-D" + PROPERTY + "=" + value
                        + " is not a network transport Tether offers: use native (the default; also epoll) or nio");
        };
    }
}
