package dev.tether.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.config.ServerConfig;
import dev.tether.responses.ResponseService;
import dev.tether.stream.StorageHealth;
import dev.tether.stream.StreamEngine;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.time.InstantSource;

/**
 * Routes every request: the Durable Streams protocol under {@code /v1/stream/}, the Responses
 * API ({@code /v1/responses}, {@code /v1/conversations}), a no-op
 * endpoint (the benchmark's HTTP ceiling) and {@code /health}. Anything thrown while handling
 * a request becomes a response in {@link ErrorResponses}.
 *
 * <p>Stateless and shared by all event loops.
 */
final class HttpRoutes implements Handler<HttpServerRequest> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String RESERVED = StreamRequests.PREFIX + "__ds/";

    private final StreamEngine engine;
    private final WriteHandler writes;
    private final ReadHandler reads;
    private final Cursors cursors;
    private final SseSession.SseSettings sse;
    private final SseEvents sseEvents = new SseEvents();
    private final Bodies.Limit bodyLimit;
    private final ResponsesRoutes responses;
    private final ConversationRoutes conversations;

    HttpRoutes(StreamEngine engine, ResponseService service, ServerConfig config, InstantSource clock) {
        this.engine = engine;
        this.bodyLimit = new Bodies.Limit(config.maxBodyBytes(), engine.memory());
        this.responses = new ResponsesRoutes(
                service, new ResponsesSocket.Settings(config.wsMaxAge(), config.wsCacheTtl(), clock), bodyLimit);
        this.conversations = new ConversationRoutes(service.conversations(), bodyLimit);
        this.cursors = new Cursors(clock);
        this.writes = new WriteHandler(engine, bodyLimit);
        this.reads = new ReadHandler(engine, cursors, config.longPollTimeout());
        this.sse = new SseSession.SseSettings(
                config.longPollTimeout().toMillis(),
                config.sseMaxLifetime().toMillis(),
                config.slowConsumerTimeout().toMillis());
    }

    @Override
    public void handle(HttpServerRequest req) {
        try {
            route(req);
        } catch (RuntimeException e) {
            ErrorResponses.send(req.response(), e);
        }
    }

    private void route(HttpServerRequest req) {
        String path = req.path();
        if (req.method() == HttpMethod.OPTIONS) {
            HttpServerResponse res = req.response();
            ProtocolHeaders.security(res);
            ProtocolHeaders.preflight(res);
            res.setStatusCode(204).end();
        } else if (under(path, ResponsesRoutes.PREFIX)) {
            responses.handle(req);
        } else if (under(path, ConversationRoutes.PREFIX)) {
            conversations.handle(req);
        } else if (path.startsWith(RESERVED)) {
            throw HttpError.of(404, "not_found", "the __ds control namespace (subscriptions) is not supported");
        } else if (path.startsWith(StreamRequests.PREFIX)) {
            stream(req, StreamRequests.streamPath(path));
        } else if (path.equals("/v1/noop")) {
            Bodies.collect(req, bodyLimit).onComplete(ar -> {
                ProtocolHeaders.security(req.response());
                req.response().setStatusCode(204).end();
            });
        } else if (path.equals("/health")) {
            health(req.response());
        } else {
            throw HttpError.of(
                    404,
                    "not_found",
                    "no such endpoint: " + path + " (streams live under " + StreamRequests.PREFIX + "<path>)");
        }
    }

    private static boolean under(String path, String prefix) {
        return path.startsWith(prefix) && (path.length() == prefix.length() || path.charAt(prefix.length()) == '/');
    }

    private void stream(HttpServerRequest req, String path) {
        HttpMethod method = req.method();
        if (method == HttpMethod.GET) {
            String live = req.getParam("live");
            if (live == null) {
                reads.get(req, path);
            } else if (live.equals("long-poll")) {
                reads.longPoll(req, path);
            } else if (live.equals("sse")) {
                new SseSession(engine, cursors, sseEvents, sse, req, path).start(StreamRequests.readOffset(req, true));
            } else {
                throw HttpError.badRequest("live must be long-poll or sse, got '" + live + "'");
            }
        } else if (method == HttpMethod.HEAD) {
            reads.head(req, path);
        } else if (method == HttpMethod.PUT) {
            writes.create(req, path);
        } else if (method == HttpMethod.POST) {
            writes.append(req, path);
        } else if (method == HttpMethod.DELETE) {
            writes.delete(req, path);
        } else {
            throw new HttpError(
                    405,
                    "method_not_allowed",
                    method + " is not supported on streams; use PUT, POST, " + "GET, HEAD or DELETE",
                    java.util.Map.of("Allow", "GET, HEAD, PUT, POST, DELETE, OPTIONS"));
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
