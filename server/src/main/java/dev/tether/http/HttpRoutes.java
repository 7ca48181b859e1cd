package dev.tether.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.auth.Authenticator;
import dev.tether.auth.Operation;
import dev.tether.auth.Principal;
import dev.tether.auth.Tokens;
import dev.tether.config.ServerConfig;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.metrics.Metrics;
import dev.tether.responses.ResponseService;
import dev.tether.session.SessionService;
import dev.tether.stream.StorageHealth;
import dev.tether.stream.StreamEngine;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.time.InstantSource;
import java.util.concurrent.CompletionStage;

/**
 * Routes every request: the Durable Streams protocol under {@code /v1/stream/}, the Responses API
 * ({@code /v1/responses}, {@code /v1/conversations}), token minting, a no-op endpoint (the
 * benchmark's HTTP ceiling), {@code /health}, {@code /metrics}, and the web app's files on every other
 * path ({@link WebAppFiles}). Before routing, every request gets an id and is checked against the
 * origin policy; API requests are then authenticated, and each route checks the capability it
 * needs. Anything thrown while handling a request becomes a response through {@link ErrorTable}.
 *
 * <p>Stateless and shared by all event loops.
 */
final class HttpRoutes implements Handler<HttpServerRequest> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String RESERVED = StreamRequests.PREFIX + "__ds/";
    static final String STREAMS = "streams/";

    private final StreamEngine engine;
    private final WriteHandler writes;
    private final ReadHandler reads;
    private final Cursors cursors;
    private final SseSession.SseSettings sse;
    private final SseEvents sseEvents = new SseEvents();
    private final Bodies.Limit bodyLimit;
    private final ResponsesRoutes responses;
    private final ModelRoutes models;
    private final ConversationRoutes conversations;
    private final SessionRoutes sessions;
    private final TokenRoutes tokens;
    private final HttpAuth auth;
    private final OriginPolicy origins;
    private final InternalStreams internal;
    private final WebAppFiles web;
    private final Metrics metrics;
    /** Cluster mode: sends the stateful services' routes to their owner; null on one node. */
    private final ClusterForwarder forwarder;

    HttpRoutes(
            StreamEngine engine,
            ResponseService service,
            SessionService sessionService,
            ServerConfig config,
            InstantSource clock,
            Authenticator authenticator,
            Metrics metrics,
            ClusterForwarder forwarder) {
        this.metrics = metrics;
        this.forwarder = forwarder;
        this.engine = engine;
        this.bodyLimit = new Bodies.Limit(config.maxBodyBytes(), engine.memory());
        this.responses = new ResponsesRoutes(
                service,
                new ResponsesSocket.Settings(
                        config.wsMaxAge(),
                        config.wsCacheTtl(),
                        clock,
                        (int) Math.min(Integer.MAX_VALUE, config.maxBodyBytes()),
                        config.slowConsumerTimeout().toMillis()),
                bodyLimit,
                config.slowConsumerTimeout().toMillis());
        this.conversations = new ConversationRoutes(service.conversations(), bodyLimit);
        this.models = new ModelRoutes(service.models());
        this.tokens = new TokenRoutes(authenticator == null ? null : new Tokens(authenticator), bodyLimit);
        this.auth = new HttpAuth(authenticator);
        this.origins = new OriginPolicy(config.corsOrigins(), authenticator == null && config.loopbackOnly());
        this.internal = new InternalStreams(service, authenticator != null);
        this.web = new WebAppFiles(config.webRoot());
        this.cursors = new Cursors(clock);
        this.writes = new WriteHandler(engine, bodyLimit);
        this.reads = new ReadHandler(engine, cursors, config.longPollTimeout());
        this.sessions = new SessionRoutes(
                sessionService,
                engine,
                this,
                bodyLimit,
                new SessionSocket.Settings(
                        clock,
                        (int) Math.min(Integer.MAX_VALUE, config.maxBodyBytes()),
                        config.slowConsumerTimeout().toMillis()));
        this.sse = new SseSession.SseSettings(
                config.sseKeepAlive().toMillis(),
                config.sseMaxLifetime().toMillis(),
                config.slowConsumerTimeout().toMillis());
    }

    @Override
    public void handle(HttpServerRequest req) {
        RequestIds.assign(req);
        try {
            origins.headers(req, req.response());
            if (req.method() == HttpMethod.OPTIONS) {
                preflight(req.response());
                return;
            }
            query(req);
            origins.check(req);
            route(req);
        } catch (RuntimeException e) {
            fail(req, e);
        }
    }

    /** Errors on the OpenAI-compatible endpoints use OpenAI's envelope; everything else Tether's. */
    static void fail(HttpServerRequest req, Throwable e) {
        String path = req.path();
        if (under(path, ResponsesRoutes.PREFIX)
                || under(path, ConversationRoutes.PREFIX)
                || under(path, ModelRoutes.PREFIX)
                || under(path, SessionRoutes.PREFIX)) {
            ApiErrors.send(req.response(), e);
        } else {
            ErrorResponses.send(req.response(), e);
        }
    }

    /** Decodes the query string once, so malformed percent-escapes are a 400 and not a failure later. */
    private static void query(HttpServerRequest req) {
        try {
            req.params();
        } catch (IllegalArgumentException e) {
            throw Refusal.invalid("the query string is not valid percent-encoding (use %XX with two hex digits)");
        }
    }

    private static void preflight(HttpServerResponse res) {
        ProtocolHeaders.security(res);
        ProtocolHeaders.preflight(res);
        res.setStatusCode(204).end();
    }

    private void route(HttpServerRequest req) {
        String path = req.path();
        if (path.equals("/health")) {
            health(req.response());
            return;
        }
        if (!api(path) && (req.method() == HttpMethod.GET || req.method() == HttpMethod.HEAD)) {
            web.serve(req); // no credentials: the web app's files hold no data
            return;
        }
        if (forwarder != null
                && (under(path, ResponsesRoutes.PREFIX)
                        || under(path, ConversationRoutes.PREFIX)
                        || under(path, SessionRoutes.PREFIX))
                && forwarder.forward(req)) {
            return; // cluster mode: the owner of the sessions serves these
        }
        Principal principal = auth.authenticate(req);
        if (under(path, ResponsesRoutes.PREFIX)) {
            responses.handle(req, principal);
        } else if (under(path, ConversationRoutes.PREFIX)) {
            conversations.handle(req, principal);
        } else if (under(path, ModelRoutes.PREFIX)) {
            models.handle(req, principal);
        } else if (under(path, SessionRoutes.PREFIX)) {
            sessions.handle(req, principal);
        } else if (path.equals(TokenRoutes.PATH)) {
            tokens.handle(req, principal);
        } else if (path.equals("/metrics")) {
            principal.require("metrics", Operation.READ);
            HttpServerResponse res = req.response();
            res.putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            res.putHeader("Cache-Control", "no-store");
            res.setStatusCode(200).end(metrics.scrape());
        } else if (path.startsWith(RESERVED)) {
            throw Refusal.of(
                    Condition.NOT_FOUND, "not_found", "the __ds control namespace (subscriptions) is not supported");
        } else if (path.startsWith(StreamRequests.PREFIX)) {
            stream(req, StreamRequests.streamPath(path), principal);
        } else if (path.equals("/v1/noop")) {
            Bodies.collect(req, bodyLimit).onComplete(ar -> {
                ProtocolHeaders.security(req.response());
                req.response().setStatusCode(204).end();
            });
        } else {
            throw Refusal.of(
                    Condition.NOT_FOUND,
                    "not_found",
                    "no such endpoint: " + path + " (streams live under " + StreamRequests.PREFIX + "<path>)");
        }
    }

    /** The paths the API owns: everything under {@code /v1}, {@code /health} and {@code /metrics}. */
    private static boolean api(String path) {
        return under(path, "/v1") || path.equals("/health") || path.equals("/metrics");
    }

    static boolean under(String path, String prefix) {
        return path.startsWith(prefix) && (path.length() == prefix.length() || path.charAt(prefix.length()) == '/');
    }

    private void stream(HttpServerRequest req, String path, Principal principal) {
        HttpMethod method = req.method();
        Operation op = operation(method);
        if (op != Operation.READ) {
            InternalStreams.refuseWrite(path);
        }
        String sessionResource = InternalStreams.sessionResource(path);
        // A session's log is governed by the session's capabilities, whichever route reads it.
        principal.require(sessionResource != null ? sessionResource : STREAMS + path, op);
        ReadFilter filter =
                sessionResource != null && !principal.capabilities().allows(sessionResource, Operation.FLOOR)
                        ? ReadFilter.NO_WHISPERS
                        : null;
        String forkSource = method == HttpMethod.PUT ? req.getHeader(ProtocolHeaders.FORKED_FROM) : null;
        CompletionStage<Void> allowed;
        if (forkSource != null) {
            String source = StreamRequests.forkSource(forkSource);
            if (InternalStreams.sessionResource(source) != null) {
                // a copy would escape the session's capabilities and its whisper filter
                throw Refusal.of(
                        Condition.FORBIDDEN,
                        "read_only_namespace",
                        "a session's log cannot be forked; read it at /v1/sessions/<id>/events or take a snapshot");
            }
            principal.require(STREAMS + source, Operation.READ);
            allowed = internal.checkRead(source, principal);
        } else {
            allowed = op == Operation.READ
                    ? internal.checkRead(path, principal)
                    : java.util.concurrent.CompletableFuture.completedFuture(null);
        }
        if (allowed.toCompletableFuture().isDone()
                && !allowed.toCompletableFuture().isCompletedExceptionally()) {
            dispatch(req, path, method, filter); // the common case: no ownership lookup needed
            return;
        }
        req.pause();
        LoopExecutor.current().adapt(allowed).onComplete(ar -> {
            req.resume();
            if (ar.failed()) {
                fail(req, ar.cause());
                return;
            }
            try {
                dispatch(req, path, method, filter);
            } catch (RuntimeException e) {
                fail(req, e);
            }
        });
    }

    private static Operation operation(HttpMethod method) {
        if (method == HttpMethod.GET || method == HttpMethod.HEAD) {
            return Operation.READ;
        } else if (method == HttpMethod.PUT) {
            return Operation.CREATE;
        } else if (method == HttpMethod.POST) {
            return Operation.APPEND;
        } else if (method == HttpMethod.DELETE) {
            return Operation.DELETE;
        }
        throw new Refusal(
                Condition.METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "GET, HEAD, PUT, POST, DELETE, OPTIONS",
                method + " is not supported on streams; use PUT, POST, GET, HEAD or DELETE");
    }

    private void dispatch(HttpServerRequest req, String path, HttpMethod method, ReadFilter filter) {
        if (method == HttpMethod.GET) {
            read(req, path, filter, null);
        } else if (method == HttpMethod.HEAD) {
            reads.head(req, path);
        } else if (method == HttpMethod.PUT) {
            writes.create(req, path);
        } else if (method == HttpMethod.POST) {
            writes.append(req, path);
        } else {
            writes.delete(req, path);
        }
    }

    /**
     * A Durable Streams read (catch-up, long-poll or SSE) of {@code path}, minus what {@code
     * filter} hides; {@code onEnd} (or null) runs when an SSE response ends.
     */
    void read(HttpServerRequest req, String path, ReadFilter filter, Runnable onEnd) {
        String live = req.getParam("live");
        if (live == null) {
            reads.get(req, path, filter);
        } else if (live.equals("long-poll")) {
            reads.longPoll(req, path, filter);
        } else if (live.equals("sse")) {
            new SseSession(engine, cursors, sseEvents, sse, req, path, filter, onEnd)
                    .start(StreamRequests.readOffset(req, true));
        } else {
            throw Refusal.invalid("live must be long-poll or sse, got '" + live + "'");
        }
    }

    /**
     * 503 unless writes are taken: "degraded" while the store refuses them (it recovers by itself),
     * "failed" when only a restart helps (a failed flush, a dead writer thread). The store is named
     * by kind only: the data directory's path belongs in the log, not in an unauthenticated body.
     */
    private void health(HttpServerResponse res) {
        StorageHealth health = engine.health();
        ObjectNode body = JSON.createObjectNode();
        body.put(
                "status",
                switch (health.state()) {
                    case WRITABLE -> "ok";
                    case UNAVAILABLE -> "degraded";
                    case FAILED -> "failed";
                });
        body.put("store", engine.storeKind());
        body.put("writable", health.writable());
        body.put("detail", health.detail());
        body.put("streams", engine.streamCount());
        ObjectNode memory = body.putObject("memory");
        memory.put("limit", engine.memory().limit());
        memory.put("pinned", engine.memory().pinned());
        memory.put("cached", engine.memory().cached());
        ProtocolHeaders.security(res);
        res.putHeader("Content-Type", "application/json");
        res.putHeader("Cache-Control", "no-store");
        res.setStatusCode(health.writable() ? 200 : 503).end(body.toString());
    }
}
