package dev.tether.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.auth.Operation;
import dev.tether.auth.Principal;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.responses.Json;
import dev.tether.responses.ParamsParser;
import dev.tether.responses.ResponseParams;
import dev.tether.responses.ResponseRecord;
import dev.tether.responses.ResponseRun;
import dev.tether.responses.ResponseService;
import dev.tether.responses.RunErrors;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * The Responses API over HTTP: {@code POST /v1/responses} (JSON or SSE, foreground or
 * background), {@code GET/DELETE /v1/responses/{id}}, resume with {@code stream=true&starting_after=N},
 * {@code input_items}, {@code cancel}, {@code input_tokens}, {@code compact}; a WebSocket upgrade
 * on {@code GET /v1/responses} goes to {@link ResponsesSocket}. Errors use OpenAI's envelope ({@link ApiErrors}).
 *
 * <p>Stateless and shared by all event loops.
 */
final class ResponsesRoutes {
    static final String PREFIX = "/v1/responses";
    static final String RESOURCE = ResponseService.RESOURCE;

    private final ResponseService service;
    private final ResponsesSocket.Settings socketSettings;
    private final Bodies.Limit bodyLimit;
    private final long slowConsumerMillis;

    ResponsesRoutes(
            ResponseService service,
            ResponsesSocket.Settings socketSettings,
            Bodies.Limit bodyLimit,
            long slowConsumerMillis) {
        this.slowConsumerMillis = slowConsumerMillis;
        this.service = service;
        this.socketSettings = socketSettings;
        this.bodyLimit = bodyLimit;
    }

    /** Routes one request; what it throws is answered in OpenAI's envelope by {@link HttpRoutes#fail}. */
    void handle(HttpServerRequest req, Principal principal) {
        String rest = req.path().substring(PREFIX.length());
        HttpMethod m = req.method();
        String owner = principal.id();
        if (rest.isEmpty() || rest.equals("/")) {
            if (m == HttpMethod.POST) {
                principal.require(RESOURCE, Operation.CREATE);
                create(req, principal);
            } else if (m == HttpMethod.GET && "websocket".equalsIgnoreCase(req.getHeader("Upgrade"))) {
                principal.require(RESOURCE, Operation.CREATE);
                checkHandshake(req);
                req.toWebSocket()
                        .onSuccess(ws -> {
                            Pipelines.upgraded(req.connection());
                            new ResponsesSocket(service, socketSettings, ws, principal).start();
                        })
                        .onFailure(e -> ApiErrors.send(req.response(), e));
            } else if (m == HttpMethod.GET) {
                throw new Refusal(
                        Condition.UPGRADE_REQUIRED,
                        "upgrade_required",
                        null,
                        "GET /v1/responses is the WebSocket endpoint (send Upgrade: websocket); create a response with POST.");
            } else {
                throw methodNotAllowed(m, "POST (or a GET WebSocket upgrade)");
            }
            return;
        }
        if (rest.equals("/input_tokens") || rest.equals("/compact")) {
            // Both take a create request's body and answer without storing anything.
            if (m != HttpMethod.POST) {
                throw methodNotAllowed(m, "POST");
            }
            principal.require(RESOURCE, Operation.CREATE);
            withJson(req, bodyLimit, null, body -> {
                ResponseParams params = ParamsParser.parse(body);
                ResponseService.authorize(params, principal);
                json(
                        req,
                        rest.equals("/compact")
                                ? service.compact(params, principal.id())
                                : service.inputTokens(params, principal.id()),
                        200);
            });
            return;
        }
        String[] parts = rest.substring(1).split("/", -1);
        String id = parts[0];
        if (parts.length == 1 && m == HttpMethod.GET) {
            principal.require(RESOURCE, Operation.READ);
            get(req, id, owner);
        } else if (parts.length == 1 && m == HttpMethod.DELETE) {
            principal.require(RESOURCE, Operation.DELETE);
            json(req, service.delete(id, owner), 200);
        } else if (parts.length == 2 && parts[1].equals("input_items") && m == HttpMethod.GET) {
            principal.require(RESOURCE, Operation.READ);
            json(
                    req,
                    service.inputItems(id, owner, req.getParam("limit"), req.getParam("order"), req.getParam("after")),
                    200);
        } else if (parts.length == 2 && parts[1].equals("cancel") && m == HttpMethod.POST) {
            // Whoever may create responses may stop its own (a browser's stop button).
            principal.require(RESOURCE, Operation.CREATE);
            json(req, service.cancel(id, owner).thenApply(ResponseRecord::toJson), 200);
        } else {
            throw Refusal.notFound(null, "Unknown endpoint: " + m + " " + req.path() + ".");
        }
    }

    private void create(HttpServerRequest req, Principal principal) {
        withJson(req, bodyLimit, null, body -> {
            ResponseParams params = ParamsParser.parse(body);
            ResponseService.authorize(params, principal);
            LoopExecutor.current()
                    .adapt(service.create(params, null, principal.id()))
                    .onSuccess(run -> started(req, params, run))
                    .onFailure(e -> ApiErrors.send(req.response(), e));
        });
    }

    /**
     * RFC 6455 §4.2.1: refuses a broken handshake with a JSON body (Vert.x would answer with an
     * empty one); a wrong version is 426 naming the one this server speaks.
     */
    private static void checkHandshake(HttpServerRequest req) {
        String connection = req.getHeader("Connection");
        if (connection == null || !connection.toLowerCase(java.util.Locale.ROOT).contains("upgrade")) {
            throw Refusal.invalid(null, "A WebSocket handshake needs Connection: Upgrade (RFC 6455 4.1).");
        }
        if (!"13".equals(req.getHeader("Sec-WebSocket-Version"))) {
            req.response().putHeader("Sec-WebSocket-Version", "13");
            throw new Refusal(
                    Condition.UPGRADE_REQUIRED,
                    "websocket_version",
                    null,
                    "This server speaks WebSocket version 13; send Sec-WebSocket-Version: 13.");
        }
        String key = req.getHeader("Sec-WebSocket-Key");
        boolean keyOk;
        try {
            keyOk = key != null && java.util.Base64.getDecoder().decode(key.trim()).length == 16;
        } catch (IllegalArgumentException e) {
            keyOk = false;
        }
        if (!keyOk) {
            throw Refusal.invalid(null, "Sec-WebSocket-Key must be 16 random bytes in base64 (RFC 6455 4.1).");
        }
    }

    /**
     * Collects and parses a JSON body, then runs {@code action}; any failure on the way becomes
     * an error response.
     *
     * @param ifEmpty what an empty body means, or null when a body is required
     */
    static void withJson(HttpServerRequest req, Bodies.Limit limit, JsonNode ifEmpty, Consumer<JsonNode> action) {
        Bodies.collect(req, limit).onComplete(ar -> {
            try {
                if (ar.failed()) {
                    throw ar.cause() instanceof RuntimeException r ? r : new IllegalStateException(ar.cause());
                }
                Buffer body = ar.result();
                if (body.length() == 0 && ifEmpty == null) {
                    throw Refusal.invalid(null, "The request body is empty; send a JSON object.");
                }
                action.accept(body.length() == 0 ? ifEmpty : Json.parseRequest(body.getBytes()));
            } catch (RuntimeException e) {
                ApiErrors.send(req.response(), e);
            }
        });
    }

    private void started(HttpServerRequest req, ResponseParams params, ResponseRun run) {
        HttpServerResponse res = req.response();
        if (params.stream()) {
            ResponseSse sse = new ResponseSse(res, Vertx.currentContext(), slowConsumerMillis);
            sse.open(() -> run.unsubscribe(sse)); // a disconnect is not a cancel
            run.subscribe(-1, sse);
        } else if (params.background()) {
            send(res, 200, run.snapshot().toJson());
        } else {
            LoopExecutor.current()
                    .adapt(run.done())
                    .onSuccess(r -> finished(res, r))
                    .onFailure(e -> ApiErrors.send(res, e));
        }
    }

    /** A foreground JSON answer: failures become OpenAI-style errors, the rest the object. */
    private static void finished(HttpServerResponse res, ResponseRecord r) {
        if (r.error() == null) {
            send(res, 200, r.toJson());
            return;
        }
        ApiErrors.send(res, RunErrors.refusal(r));
    }

    private void get(HttpServerRequest req, String id, String owner) {
        String stream = req.getParam("stream");
        if (stream == null || stream.equals("false")) {
            json(req, service.get(id, owner).thenApply(ResponseRecord::toJson), 200);
            return;
        }
        if (!stream.equals("true")) {
            throw Refusal.invalid("stream", "Invalid 'stream': expected true or false, got '" + stream + "'.");
        }
        int after = startingAfter(req.getParam("starting_after"));
        HttpServerResponse res = req.response();
        ResponseSse sse = new ResponseSse(res, Vertx.currentContext(), slowConsumerMillis);
        LoopExecutor.current()
                .adapt(service.replay(id, owner, after))
                .onSuccess(replay -> {
                    sse.open(() -> service.unsubscribe(id, sse));
                    replay.deliver(sse);
                })
                .onFailure(e -> ApiErrors.send(res, e));
    }

    private static int startingAfter(String value) {
        if (value == null) {
            return -1;
        }
        try {
            int n = Integer.parseInt(value);
            if (n >= -1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // falls through to the error
        }
        throw Refusal.invalid(
                "starting_after",
                "Invalid 'starting_after': expected a sequence number (an integer >= 0), got '" + value + "'.");
    }

    static void json(HttpServerRequest req, CompletionStage<ObjectNode> stage, int status) {
        Future<ObjectNode> f = LoopExecutor.current().adapt(stage);
        f.onSuccess(body -> send(req.response(), status, body)).onFailure(e -> ApiErrors.send(req.response(), e));
    }

    static void send(HttpServerResponse res, int status, ObjectNode body) {
        if (res.ended() || res.closed()) {
            return;
        }
        ProtocolHeaders.security(res);
        res.setStatusCode(status).putHeader("Content-Type", "application/json").end(Buffer.buffer(Json.bytes(body)));
    }

    static Refusal methodNotAllowed(HttpMethod m, String allowed) {
        return new Refusal(
                Condition.METHOD_NOT_ALLOWED,
                "method_not_allowed",
                null,
                m + " is not allowed here; use " + allowed + ".");
    }
}
