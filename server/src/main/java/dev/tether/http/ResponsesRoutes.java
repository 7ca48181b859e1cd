package dev.tether.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.responses.ApiError;
import dev.tether.responses.Json;
import dev.tether.responses.ParamsParser;
import dev.tether.responses.ResponseParams;
import dev.tether.responses.ResponseRecord;
import dev.tether.responses.ResponseRun;
import dev.tether.responses.ResponseService;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * The Responses API over HTTP: {@code POST /v1/responses} (JSON or SSE, foreground or
 * background), {@code GET/DELETE /v1/responses/{id}}, resume with {@code stream=true&starting_after=N},
 * {@code input_items}, {@code cancel}; a WebSocket upgrade on {@code GET /v1/responses} goes to
 * {@link ResponsesSocket}. Errors use OpenAI's envelope ({@link ApiErrors}).
 *
 * <p>Stateless and shared by all event loops.
 */
final class ResponsesRoutes {
    static final String PREFIX = "/v1/responses";

    private final ResponseService service;
    private final ResponsesSocket.Settings socketSettings;
    private final Bodies.Limit bodyLimit;

    ResponsesRoutes(ResponseService service, ResponsesSocket.Settings socketSettings, Bodies.Limit bodyLimit) {
        this.service = service;
        this.socketSettings = socketSettings;
        this.bodyLimit = bodyLimit;
    }

    void handle(HttpServerRequest req) {
        try {
            route(req);
        } catch (RuntimeException e) {
            ApiErrors.send(req.response(), e);
        }
    }

    private void route(HttpServerRequest req) {
        String rest = req.path().substring(PREFIX.length());
        HttpMethod m = req.method();
        if (rest.isEmpty() || rest.equals("/")) {
            if (m == HttpMethod.POST) {
                create(req);
            } else if (m == HttpMethod.GET && "websocket".equalsIgnoreCase(req.getHeader("Upgrade"))) {
                req.toWebSocket()
                        .onSuccess(ws -> new ResponsesSocket(service, socketSettings, ws).start())
                        .onFailure(e -> ApiErrors.send(req.response(), e));
            } else if (m == HttpMethod.GET) {
                throw new ApiError(
                        426,
                        "invalid_request_error",
                        "upgrade_required",
                        null,
                        "GET /v1/responses is the WebSocket endpoint (send Upgrade: websocket); create a response with POST.");
            } else {
                throw methodNotAllowed(m, "POST (or a GET WebSocket upgrade)");
            }
            return;
        }
        String[] parts = rest.substring(1).split("/", -1);
        String id = parts[0];
        if (parts.length == 1 && m == HttpMethod.GET) {
            get(req, id);
        } else if (parts.length == 1 && m == HttpMethod.DELETE) {
            json(req, service.delete(id), 200);
        } else if (parts.length == 2 && parts[1].equals("input_items") && m == HttpMethod.GET) {
            json(req, service.inputItems(id, req.getParam("limit"), req.getParam("order"), req.getParam("after")), 200);
        } else if (parts.length == 2 && parts[1].equals("cancel") && m == HttpMethod.POST) {
            json(req, service.cancel(id).thenApply(ResponseRecord::toJson), 200);
        } else {
            throw ApiError.notFound(null, "Unknown endpoint: " + m + " " + req.path() + ".");
        }
    }

    private void create(HttpServerRequest req) {
        withJson(req, bodyLimit, null, body -> {
            ResponseParams params = ParamsParser.parse(body);
            LoopExecutor.current()
                    .adapt(service.create(params, null))
                    .onSuccess(run -> started(req, params, run))
                    .onFailure(e -> ApiErrors.send(req.response(), e));
        });
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
                    throw ApiError.invalid(null, "The request body is empty; send a JSON object.");
                }
                action.accept(body.length() == 0 ? ifEmpty : parse(body));
            } catch (RuntimeException e) {
                ApiErrors.send(req.response(), e);
            }
        });
    }

    private static JsonNode parse(Buffer body) {
        try {
            return Json.MAPPER.readTree(body.getBytes());
        } catch (IOException e) {
            throw ApiError.invalid(null, "The body is not valid JSON: " + e.getMessage());
        }
    }

    private void started(HttpServerRequest req, ResponseParams params, ResponseRun run) {
        HttpServerResponse res = req.response();
        if (params.stream()) {
            ResponseSse sse = new ResponseSse(res, Vertx.currentContext());
            sse.open();
            res.closeHandler(v -> run.unsubscribe(sse)); // a disconnect is not a cancel
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
        ObjectNode error = r.error();
        if (error == null) {
            send(res, 200, r.toJson());
            return;
        }
        String code = error.path("code").asText();
        int status =
                switch (code) {
                    case "upstream_error" -> 502;
                    case "invalid_prompt", "context_length_exceeded" -> 400;
                    case "storage_unavailable", "server_shutdown" -> 503;
                    default -> 500;
                };
        String type = status == 400 ? "invalid_request_error" : "server_error";
        ApiErrors.send(
                res,
                new ApiError(
                        status,
                        type,
                        code,
                        null,
                        error.path("message").asText() + " (response " + r.id() + " is stored with status failed)"));
    }

    private void get(HttpServerRequest req, String id) {
        String stream = req.getParam("stream");
        if (stream == null || stream.equals("false")) {
            json(req, service.get(id).thenApply(ResponseRecord::toJson), 200);
            return;
        }
        if (!stream.equals("true")) {
            throw ApiError.invalid("stream", "Invalid 'stream': expected true or false, got '" + stream + "'.");
        }
        int after = startingAfter(req.getParam("starting_after"));
        HttpServerResponse res = req.response();
        ResponseSse sse = new ResponseSse(res, Vertx.currentContext());
        LoopExecutor.current()
                .adapt(service.get(id))
                .onSuccess(r -> {
                    sse.open();
                    res.closeHandler(v -> service.unsubscribe(id, sse));
                    service.resume(id, after, sse).whenComplete((v, e) -> {
                        if (e != null) {
                            sse.onEnd();
                        }
                    });
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
        throw ApiError.invalid(
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

    static ApiError methodNotAllowed(HttpMethod m, String allowed) {
        return new ApiError(
                405,
                "invalid_request_error",
                "method_not_allowed",
                null,
                m + " is not allowed here; use " + allowed + ".");
    }
}
