package dev.tether.http;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Tether's Vert.x instances (the HTTP API's and the upstream client's) and the network transport
 * under their event loops: Netty's native epoll on Linux, where it loads, JDK NIO elsewhere or
 * when {@value #PROPERTY}{@code =nio} asks for it. On the append load, one build on epoll and on
 * NIO came within the spread of each other (docs/benchmarks.md, "the native epoll transport"):
 * epoll is the default as Netty's own transport for Linux, not for a measured gain.
 *
 * <p>Stateless.
 */
final class EventLoops {
    /** The system property that chooses the transport: {@code native} (the default) or {@code nio}. */
    static final String PROPERTY = "tether.transport";

    private static final System.Logger LOG = System.getLogger(EventLoops.class.getName());

    /** The fallback is said once, though both instances fall back. */
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private EventLoops() {}

    /**
     * A Vert.x instance with {@code loops} event loops and {@code options}' other settings, on the
     * chosen transport; logs why, once, when native was asked for and could not load.
     *
     * @throws IllegalArgumentException when {@value #PROPERTY} names no transport
     */
    static Vertx create(int loops, VertxOptions options) {
        return create(loops, options, System.getProperty(PROPERTY));
    }

    /** As {@link #create(int, VertxOptions)}, with {@code transport} in place of the property's value. */
    static Vertx create(int loops, VertxOptions options, String transport) {
        boolean preferNative = preferNative(transport);
        Vertx vertx = Vertx.vertx(options.setEventLoopPoolSize(loops).setPreferNativeTransport(preferNative));
        if (preferNative && !vertx.isNativeTransportEnabled() && WARNED.compareAndSet(false, true)) {
            Throwable cause = vertx.unavailableNativeTransportCause();
            LOG.log(
                    System.Logger.Level.WARNING,
                    "the native network transport could not load, using JDK NIO" + (cause == null ? "" : ": " + cause));
        }
        return vertx;
    }

    /** Refuses a {@value #PROPERTY} value that names no transport, before anything is opened. */
    static void check() {
        preferNative(System.getProperty(PROPERTY));
    }

    /** The transport {@code vertx} runs on, as {@code epoll} or {@code nio} (for the start-up line). */
    static String describe(Vertx vertx) {
        return vertx.isNativeTransportEnabled() ? "epoll" : "nio";
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
