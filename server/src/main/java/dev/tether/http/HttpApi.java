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
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import java.time.Duration;
import java.time.InstantSource;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP face of Tether: an HTTP server on each of the node's event loops ({@link EventLoops}),
 * all sharing one port. The only class outside this package that knows it exists is the server's
 * wiring ({@code TetherServer}).
 *
 * <p>Thread-safe; {@link #close()} may be called from any thread, once.
 */
public final class HttpApi implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(HttpApi.class.getName());
    private static final Duration DRAIN = Duration.ofSeconds(5);

    private final Vertx vertx;
    private final String deployment;
    private final long sweeps;
    private final int port;
    private final ConnectionGuard guard;
    /** Cluster mode's forwarder, or null on one node. */
    private final ClusterForwarder forwarder;

    private HttpApi(
            Vertx vertx, String deployment, long sweeps, int port, ConnectionGuard guard, ClusterForwarder forwarder) {
        this.forwarder = forwarder;
        this.vertx = vertx;
        this.deployment = deployment;
        this.sweeps = sweeps;
        this.port = port;
        this.guard = guard;
    }

    /** Connections open now, and the limit. */
    public int openConnections() {
        return guard.open();
    }

    /**
     * Binds and starts serving on an HTTP server per event loop; blocks until listening.
     *
     * @param loops the node's event loops (closed by the caller, after this)
     * @param authenticator checks credentials, or null for the open (no-auth, loopback) mode
     * @param owner         cluster mode: where the sessions' routes go (see {@link ClusterForwarder}); null on one node
     */
    public static HttpApi start(
            EventLoops loops,
            StreamEngine engine,
            ResponseService responses,
            SessionService sessions,
            ServerConfig config,
            InstantSource clock,
            Authenticator authenticator,
            Metrics metrics,
            java.util.function.Supplier<dev.tether.cluster.OwnerLease.Route> owner)
            throws Exception {
        Vertx vertx = loops.vertx();
        String deployment = null;
        ClusterForwarder forwarder = owner == null ? null : new ClusterForwarder(vertx, owner);
        try {
            HttpMetrics.register(vertx, metrics);
            HttpRoutes routes =
                    new HttpRoutes(engine, responses, sessions, config, clock, authenticator, metrics, forwarder);
            ConnectionGuard guard = new ConnectionGuard(
                    config.maxConnections(),
                    config.headerTimeout().toMillis(),
                    config.bodyTimeout().toMillis(),
                    config.idleTimeout().toMillis());
            int port = config.port() == 0 ? freePort(config.host()) : config.port();
            // Every event loop gets its own server; Vert.x binds the socket once and shares it.
            deployment = vertx.deployVerticle(
                            () -> new ServerVerticle(routes, guard, config, port),
                            new DeploymentOptions().setInstances(loops.count()))
                    .await(30, TimeUnit.SECONDS);
            long sweeps = vertx.setPeriodic(1000, id -> guard.sweep(System.currentTimeMillis()));
            metrics.connections("http", guard, ConnectionGuard::open);
            metrics.connectionEnds("refused", guard, ConnectionGuard::refused);
            metrics.connectionEnds("timeout", guard, ConnectionGuard::timedOut);
            return new HttpApi(vertx, deployment, sweeps, port, guard, forwarder);
        } catch (Exception e) {
            HttpMetrics.unregister(vertx);
            if (deployment != null) {
                vertx.undeploy(deployment).await(10, TimeUnit.SECONDS);
            }
            if (forwarder != null) {
                forwarder.close();
            }
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

    /** Stops accepting connections, lets in-flight requests finish for a few seconds, then closes. */
    @Override
    public void close() {
        try {
            vertx.cancelTimer(sweeps);
            HttpMetrics.unregister(vertx);
            vertx.undeploy(deployment).await(DRAIN.toMillis() + 5000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "HTTP shutdown did not complete cleanly: " + e);
        }
        if (forwarder != null) {
            forwarder.close();
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
            EventLoops.home(context); // what a request on this loop starts sends upstream from here
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
            EventLoops.home(null); // what this loop starts from now on sends from any loop
            return server.shutdown(DRAIN);
        }
    }
}
