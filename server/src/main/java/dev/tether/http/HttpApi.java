package dev.tether.http;

import dev.tether.auth.Authenticator;
import dev.tether.config.ServerConfig;
import dev.tether.responses.ResponseService;
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

    private HttpApi(Vertx vertx, int port) {
        this.vertx = vertx;
        this.port = port;
    }

    /**
     * Binds and starts serving; blocks until listening.
     *
     * @param authenticator checks credentials, or null for the open (no-auth, loopback) mode
     */
    public static HttpApi start(
            StreamEngine engine,
            ResponseService responses,
            ServerConfig config,
            InstantSource clock,
            Authenticator authenticator)
            throws Exception {
        Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(config.eventLoops()));
        try {
            HttpRoutes routes = new HttpRoutes(engine, responses, config, clock, authenticator);
            int port = config.port() == 0 ? freePort(config.host()) : config.port();
            // Every event loop gets its own server; Vert.x binds the socket once and shares it.
            vertx.deployVerticle(
                            () -> new ServerVerticle(routes, config.host(), port),
                            new DeploymentOptions().setInstances(config.eventLoops()))
                    .await(30, TimeUnit.SECONDS);
            return new HttpApi(vertx, port);
        } catch (Exception e) {
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

    /** Stops accepting connections, lets in-flight requests finish for a few seconds, then closes. */
    @Override
    public void close() {
        try {
            vertx.close().await(DRAIN.toMillis() + 5000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "HTTP shutdown did not complete cleanly: " + e);
        }
    }

    /** One HTTP server on one event loop. */
    private static final class ServerVerticle extends VerticleBase {
        private final HttpRoutes routes;
        private final String host;
        private final int requestedPort;
        private HttpServer server;

        ServerVerticle(HttpRoutes routes, String host, int port) {
            this.routes = routes;
            this.host = host;
            this.requestedPort = port;
        }

        @Override
        public Future<?> start() {
            HttpServerOptions options = new HttpServerOptions()
                    .setHost(host)
                    .setPort(requestedPort)
                    .setCompressionSupported(false)
                    .setTcpNoDelay(true)
                    .setIdleTimeout(0);
            server = vertx.createHttpServer(options).requestHandler(routes);
            return server.listen();
        }

        @Override
        public Future<?> stop() {
            return server.shutdown(DRAIN);
        }
    }
}
