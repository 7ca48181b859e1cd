package dev.tether.http;

import dev.tether.auth.Authenticator;
import dev.tether.config.ServerConfig;
import dev.tether.metrics.Metrics;
import dev.tether.responses.ResponseService;
import dev.tether.session.SessionService;
import dev.tether.stream.StreamEngine;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import java.time.Duration;
import java.time.InstantSource;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP face of Tether: one Vert.x instance with an HTTP server per event loop, all sharing
 * one port. The only class outside this package that knows it exists is the CLI.
 *
 * <p>Thread-safe; {@link #close()} may be called from any thread, once.
 */
public final class HttpApi implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(HttpApi.class.getName());
    private static final Duration DRAIN = Duration.ofSeconds(5);

    private final Vertx vertx;
    private final int port;
    private final ConnectionGuard guard;

    private HttpApi(Vertx vertx, int port, ConnectionGuard guard) {
        this.vertx = vertx;
        this.port = port;
        this.guard = guard;
    }

    /**
     * Checks the settings read from system properties ({@code -Dtether.transport}), so that a bad
     * value stops the start before the store is opened.
     *
     * @throws IllegalArgumentException saying what is wrong
     */
    public static void checkSettings() {
        EventLoops.check();
    }

    /** Connections open now, and the limit. */
    public int openConnections() {
        return guard.open();
    }

    /**
     * Binds and starts serving; blocks until listening.
     *
     * @param authenticator checks credentials, or null for the open (no-auth, loopback) mode
     * @param owner         cluster mode: where the sessions' routes go (see {@link ClusterForwarder}); null on one node
     */
    public static HttpApi start(
            StreamEngine engine,
            ResponseService responses,
            SessionService sessions,
            ServerConfig config,
            InstantSource clock,
            Authenticator authenticator,
            Metrics metrics,
            java.util.function.Supplier<dev.tether.cluster.OwnerLease.Route> owner)
            throws Exception {
        Vertx vertx = EventLoops.create(config.eventLoops(), new VertxOptions());
        try {
            HttpMetrics.register(vertx, metrics);
            HttpRoutes routes = new HttpRoutes(
                    engine,
                    responses,
                    sessions,
                    config,
                    clock,
                    authenticator,
                    metrics,
                    owner == null ? null : new ClusterForwarder(vertx, owner));
            ConnectionGuard guard = new ConnectionGuard(
                    config.maxConnections(),
                    config.headerTimeout().toMillis(),
                    config.bodyTimeout().toMillis(),
                    config.idleTimeout().toMillis());
            int port = config.port() == 0 ? freePort(config.host()) : config.port();
            // Every event loop gets its own server; Vert.x binds the socket once and shares it.
            vertx.deployVerticle(
                            () -> new ServerVerticle(routes, guard, config, port),
                            new DeploymentOptions().setInstances(config.eventLoops()))
                    .await(30, TimeUnit.SECONDS);
            vertx.setPeriodic(1000, id -> guard.sweep(System.currentTimeMillis()));
            metrics.connections("http", guard, ConnectionGuard::open);
            metrics.connectionEnds("refused", guard, ConnectionGuard::refused);
            metrics.connectionEnds("timeout", guard, ConnectionGuard::timedOut);
            return new HttpApi(vertx, port, guard);
        } catch (Exception e) {
            HttpMetrics.unregister(vertx);
            vertx.close().await(10, TimeUnit.SECONDS);
            throw e;
        }
    }

    /**
     * Port 0: Vert.x shares a socket between servers only when they name the same port, so a
     * free port is chosen first (a bind race with another process is possible but harmless: start fails).
     */
    private static int freePort(String host) throws java.io.IOException {
        try (var socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName(host))) {
            return socket.getLocalPort();
        }
    }

    public int port() {
        return port;
    }

    /** The network transport under the event loops: {@code epoll} or {@code nio}. */
    public String transport() {
        return EventLoops.describe(vertx);
    }

    /** Stops accepting connections, lets in-flight requests finish for a few seconds, then closes. */
    @Override
    public void close() {
        try {
            HttpMetrics.unregister(vertx);
            vertx.close().await(DRAIN.toMillis() + 5000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "HTTP shutdown did not complete cleanly: " + e);
        }
    }

    /** One HTTP server on one event loop. */
    private static final class ServerVerticle extends VerticleBase {
        private final HttpRoutes routes;
        private final ConnectionGuard guard;
        private final ServerConfig config;
        private final int requestedPort;
        private HttpServer server;

        ServerVerticle(HttpRoutes routes, ConnectionGuard guard, ServerConfig config, int port) {
            this.routes = routes;
            this.guard = guard;
            this.config = config;
            this.requestedPort = port;
        }

        @Override
        public Future<?> start() {
            int maxMessage = (int) Math.min(Integer.MAX_VALUE, config.maxBodyBytes());
            HttpServerOptions options = new HttpServerOptions()
                    .setHost(config.host())
                    .setPort(requestedPort)
                    .setCompressionSupported(false)
                    .setTcpNoDelay(true)
                    .setIdleTimeout(0) // ConnectionGuard owns header, body and idle deadlines
                    // Cleartext HTTP/2 off: with it, Vert.x holds a new connection back until its
                    // first bytes arrive (to sniff the h2c preface), so an idle connect would escape
                    // the connection limit and the header timeout. Browsers speak h2 only over TLS.
                    .setHttp2ClearTextEnabled(false)
                    // No compression extensions: a frame with reserved bits set is then a protocol
                    // error (1002), as RFC 6455 §5.2 requires, and never silently accepted.
                    .setPerMessageWebSocketCompressionSupported(false)
                    .setPerFrameWebSocketCompressionSupported(false)
                    // Messages are assembled and limited by ResponsesSocket (1009 with a reason);
                    // frames may be as large as a message, as browsers send one frame per message.
                    .setMaxWebSocketFrameSize(maxMessage)
                    .setMaxWebSocketMessageSize(maxMessage);
            server = vertx.createHttpServer(options)
                    .connectionHandler(conn -> {
                        guard.opened(conn, System.currentTimeMillis());
                        Pipelines.onClose(conn, () -> guard.closed(conn));
                        Pipelines.guardVersions(conn);
                    })
                    .invalidRequestHandler(InvalidRequests::handle)
                    .requestHandler(req -> {
                        guard.request(req, System.currentTimeMillis());
                        routes.handle(req);
                    });
            return server.listen();
        }

        @Override
        public Future<?> stop() {
            return server.shutdown(DRAIN);
        }
    }
}
