package dev.tether.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.auth.Operation;
import dev.tether.auth.Principal;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.responses.Json;
import dev.tether.session.Entry;
import dev.tether.session.Session;
import dev.tether.session.SessionActions;
import dev.tether.session.SessionService;
import dev.tether.stream.Lookup;
import dev.tether.stream.Offset;
import dev.tether.stream.StreamEngine;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * {@code /v1/sessions} (SESSIONS.md §3): create, view, delete; the log as a Durable Streams read
 * ({@code events}: catch-up, long-poll, SSE), a WebSocket, a snapshot and the audit export; and
 * every participant action through {@link SessionActions}. Errors use OpenAI's envelope.
 *
 * <p>Stateless and shared by all event loops.
 */
final class SessionRoutes {
    static final String PREFIX = "/v1/sessions";

    private final SessionService sessions;
    private final StreamEngine engine;
    private final HttpRoutes streams;
    private final Bodies.Limit bodyLimit;
    private final SessionSocket.Settings socketSettings;

    SessionRoutes(
            SessionService sessions,
            StreamEngine engine,
            HttpRoutes streams,
            Bodies.Limit bodyLimit,
            SessionSocket.Settings socketSettings) {
        this.sessions = sessions;
        this.engine = engine;
        this.streams = streams;
        this.bodyLimit = bodyLimit;
        this.socketSettings = socketSettings;
    }

    /** Routes one request; what it throws is answered in OpenAI's envelope by {@link HttpRoutes#fail}. */
    void handle(HttpServerRequest req, Principal principal) {
        String rest = req.path().substring(PREFIX.length());
        HttpMethod m = req.method();
        if (rest.isEmpty() || rest.equals("/")) {
            if (m == HttpMethod.POST) {
                principal.require(SessionService.RESOURCE + "*", Operation.CREATE);
                withBody(req, 201, body -> sessions.create(principal.id(), body).thenCompose(this::view));
            } else if (m == HttpMethod.GET) {
                list(req, principal);
            } else {
                throw ResponsesRoutes.methodNotAllowed(m, "POST or GET");
            }
            return;
        }
        String[] parts = rest.substring(1).split("/", -1);
        String id = parts[0];
        String resource = SessionActions.resource(id);
        if (parts.length == 1) {
            switch (m.name()) {
                case "GET" -> {
                    principal.require(resource, Operation.READ);
                    reply(req, 200, sessions.get(id).thenCompose(this::view));
                }
                case "DELETE" -> {
                    principal.require(resource, Operation.DELETE);
                    reply(req, 200, sessions.delete(id).thenApply(x -> Json.object()
                            .put("id", id)
                            .put("object", "session.deleted")
                            .put("deleted", true)));
                }
                default -> throw ResponsesRoutes.methodNotAllowed(m, "GET or DELETE");
            }
            return;
        }
        String sub = parts[1];
        if (m == HttpMethod.GET) {
            principal.require(resource, sub.equals("audit") ? Operation.AUDIT : Operation.READ);
            switch (sub) {
                case "events" -> withSession(req, id, s -> events(req, s, principal));
                case "ws" ->
                    withSession(req, id, s -> SessionSocket.upgrade(req, s, principal, engine, socketSettings));
                case "snapshot" -> snapshot(req, id, principal.capabilities().allows(resource, Operation.FLOOR));
                case "audit" -> audit(req, id);
                default -> throw Refusal.notFound(null, "Unknown endpoint: GET " + req.path() + ".");
            }
            return;
        }
        if (m != HttpMethod.POST && !(m == HttpMethod.DELETE && parts.length == 3 && sub.equals("participants"))) {
            throw ResponsesRoutes.methodNotAllowed(m, "POST");
        }
        String action = action(parts, m);
        String target = parts.length >= 3 ? parts[2] : null;
        withBody(req, status(action), body -> sessions.get(id)
                .thenCompose(s -> SessionActions.perform(s, principal, action, target, body)));
    }

    /** The action a POST (or participant DELETE) path names. */
    private static String action(String[] parts, HttpMethod m) {
        String sub = parts[1];
        String action =
                switch (parts.length) {
                    case 2 ->
                        switch (sub) {
                            case "participants" -> "join";
                            case "messages" -> "message";
                            case "runs" -> "run.start";
                            case "floor", "presence", "ack" -> sub;
                            default -> null;
                        };
                    case 3 -> sub.equals("participants") && m == HttpMethod.DELETE ? "leave" : null;
                    case 4 ->
                        switch (sub + "/" + parts[3]) {
                            case "runs/chunks" -> "run.chunks";
                            case "runs/end" -> "run.end";
                            case "runs/tool_calls" -> "run.tool_call";
                            case "runs/cancel" -> "cancel";
                            case "runs/steer" -> "steer";
                            case "tool_calls/approve" -> "approve";
                            case "tool_calls/deny" -> "deny";
                            case "tool_calls/output" -> "tool.output";
                            default -> null;
                        };
                    default -> null;
                };
        if (action == null) {
            throw Refusal.notFound(null, "Unknown endpoint: " + m + " " + String.join("/", parts) + " under " + PREFIX);
        }
        return action;
    }

    private static int status(String action) {
        return switch (action) {
            case "join", "message", "run.start", "run.tool_call" -> 201;
            default -> 200;
        };
    }

    /**
     * The session's view, answered once everything in it is durable. {@code next_offset} is the
     * log's tail when the view is taken, so it is at or before the view's last entry: reading the
     * events from it may repeat entries the view has (upserts), never skip one.
     */
    private CompletionStage<ObjectNode> view(Session s) {
        ObjectNode v = s.view();
        if (engine.lookup(s.path()) instanceof Lookup.Found f) {
            v.put("next_offset", Offset.tail(f.stream()).toString());
        }
        return s.written().thenApply(durable -> v);
    }

    /**
     * The ids of the sessions the caller may read; with {@code ?expand=view} also their views (one
     * call for a console's list instead of one per session). A session deleted meanwhile is left out.
     */
    private void list(HttpServerRequest req, Principal principal) {
        List<String> ids = sessions.ids().stream()
                .filter(id -> principal.capabilities().allows(SessionActions.resource(id), Operation.READ))
                .toList();
        String expand = req.getParam("expand");
        if (expand != null && !expand.equals("view")) {
            throw Refusal.invalid("expand", "expand takes one value: view");
        }
        if (expand == null) {
            ResponsesRoutes.send(req.response(), 200, listOf(ids, null));
            return;
        }
        List<CompletableFuture<ObjectNode>> views = ids.stream()
                .map(id -> sessions.get(id)
                        .thenCompose(this::view)
                        .toCompletableFuture()
                        .exceptionally(gone -> null))
                .toList();
        reply(
                req,
                200,
                CompletableFuture.allOf(views.toArray(CompletableFuture[]::new)).thenApply(done -> {
                    ArrayNode expanded = Json.MAPPER.createArrayNode();
                    views.stream()
                            .map(CompletableFuture::join)
                            .filter(Objects::nonNull)
                            .forEach(expanded::add);
                    return listOf(ids, expanded);
                }));
    }

    private static ObjectNode listOf(List<String> ids, ArrayNode views) {
        ArrayNode data = Json.MAPPER.createArrayNode();
        ids.forEach(data::add);
        ObjectNode list = Json.object().put("object", "list").set("data", data);
        if (views != null) {
            list.set("sessions", views);
        }
        return list;
    }

    /** The log as a Durable Streams read, whispers hidden from readers without {@code floor}. */
    private void events(HttpServerRequest req, Session s, Principal principal) {
        ReadFilter filter = principal.capabilities().allows(SessionActions.resource(s.id()), Operation.FLOOR)
                ? null
                : ReadFilter.NO_WHISPERS;
        String live = req.getParam("live");
        StreamRequests.readOffset(
                req, live != null); // a malformed offset is a 400 before the reader counts as a device
        Runnable leave = null;
        if ("sse".equals(live)) {
            // an SSE reader is a device of its principal (rule 7) until its response ends or its connection drops
            leave = s.connect(principal.id(), SessionActions.connectRole(principal, s.id()));
            Pipelines.onClose(req.connection(), leave);
        } else if ("long-poll".equals(live)) {
            s.touch(principal.id(), SessionActions.connectRole(principal, s.id())); // each poll renews the lease
        }
        streams.read(req, s.path(), filter, leave);
    }

    private void snapshot(HttpServerRequest req, String id, boolean whispers) {
        LoopExecutor.current()
                .adapt(sessions.snapshot(id, whispers))
                .onSuccess(snap -> {
                    Buffer out = Buffer.buffer("[");
                    out.appendString(
                            "{\"headers\":{\"control\":\"snapshot-start\",\"offset\":\"" + snap.next() + "\"}}");
                    for (Entry e : snap.entries()) {
                        out.appendString(",").appendBytes(e.encode());
                    }
                    out.appendString(
                            ",{\"headers\":{\"control\":\"snapshot-end\",\"offset\":\"" + snap.next() + "\"}}]");
                    HttpServerResponse res = req.response();
                    ProtocolHeaders.security(res);
                    res.putHeader("Content-Type", "application/json");
                    res.putHeader(ProtocolHeaders.NEXT_OFFSET, snap.next().toString());
                    res.putHeader("Cache-Control", "no-store");
                    res.setStatusCode(200).end(out);
                })
                .onFailure(e -> ApiErrors.send(req.response(), e));
    }

    /** {@code ?format=jsonl}: one line per entry, whispers included, each with the offset after it. */
    private void audit(HttpServerRequest req, String id) {
        String format = req.getParam("format");
        if (format != null && !format.equals("jsonl")) {
            throw Refusal.invalid("format", "format must be jsonl");
        }
        LoopExecutor.current()
                .adapt(sessions.log(id))
                .onSuccess(c -> {
                    Buffer out = Buffer.buffer();
                    for (int i = 0; i < c.messages().size(); i++) {
                        SessionSocket.withOffset(
                                        out, c.messages().get(i), c.ends().get(i))
                                .appendString("\n");
                    }
                    HttpServerResponse res = req.response();
                    ProtocolHeaders.security(res);
                    res.putHeader("Content-Type", "application/x-ndjson");
                    res.putHeader("Content-Disposition", "attachment; filename=\"" + id + ".audit.jsonl\"");
                    res.putHeader(ProtocolHeaders.NEXT_OFFSET, c.tail().toString());
                    res.putHeader("Cache-Control", "no-store");
                    res.setStatusCode(200).end(out);
                })
                .onFailure(e -> ApiErrors.send(req.response(), e));
    }

    private void withSession(HttpServerRequest req, String id, Consumer<Session> then) {
        req.pause();
        LoopExecutor.current().adapt(sessions.get(id)).onComplete(ar -> {
            req.resume();
            try {
                if (ar.failed()) {
                    throw ar.cause() instanceof RuntimeException r ? r : new IllegalStateException(ar.cause());
                }
                then.accept(ar.result());
            } catch (RuntimeException e) {
                ApiErrors.send(req.response(), e);
            }
        });
    }

    private void reply(HttpServerRequest req, int status, CompletionStage<ObjectNode> stage) {
        ResponsesRoutes.json(req, stage, status);
    }

    private void withBody(
            HttpServerRequest req,
            int status,
            java.util.function.Function<JsonNode, CompletionStage<ObjectNode>> action) {
        ResponsesRoutes.withJson(req, bodyLimit, Json.object(), json -> {
            if (!json.isObject()) {
                throw Refusal.of(Condition.INVALID, null, "the body must be a JSON object");
            }
            ResponsesRoutes.json(req, action.apply(json), status);
        });
    }
}
