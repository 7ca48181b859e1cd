package dev.tether.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.auth.Operation;
import dev.tether.auth.Principal;
import dev.tether.errors.Refusal;
import dev.tether.responses.Json;
import dev.tether.session.Session;
import dev.tether.session.SessionActions;
import dev.tether.store.StoredMessage;
import dev.tether.stream.Offset;
import dev.tether.stream.ReadFrom;
import dev.tether.stream.ReadResult;
import dev.tether.stream.Rejection;
import dev.tether.stream.StreamEngine;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import java.time.InstantSource;

/**
 * The session WebSocket, {@code GET /v1/sessions/<id>/ws?offset=O} (SESSIONS.md §3): first a
 * {@code subscribed} frame ({@code recovered} true when the client's offset was resumed exactly,
 * false when it gave none or it was not recoverable, in which case the log follows from its
 * start), then every log entry with the {@code offset} just after it — the value to resume from —
 * with the same resume rule as every other transport. Client frames are the same actions as the
 * HTTP routes ({@link SessionActions}); each is answered by a {@code reply} or an {@code error}
 * frame carrying the client's {@code ref}. The socket is a device of its principal while open.
 *
 * <p>Confined to the socket's event loop.
 */
final class SessionSocket implements TextSocket.Handler {
    record Settings(InstantSource clock, int maxMessageBytes, long slowMillis) {}

    /** RFC 6455 1012 (service restart): reconnect. */
    static final short RELOADED = 1012;

    private final TextSocket socket;
    private final Session session;
    private final Principal principal;
    private final StreamEngine engine;
    private final ReadFilter filter;
    private final String connectionId = RequestIds.generate();
    private Runnable leave = () -> {};
    private Runnable unwatch = () -> {};
    private boolean closed;

    private SessionSocket(TextSocket socket, Session session, Principal principal, StreamEngine engine) {
        this.socket = socket;
        this.session = session;
        this.principal = principal;
        this.engine = engine;
        this.filter = principal.capabilities().allows(SessionActions.resource(session.id()), Operation.FLOOR)
                ? null
                : ReadFilter.NO_WHISPERS;
    }

    static void upgrade(HttpServerRequest req, Session s, Principal p, StreamEngine engine, Settings settings) {
        if (!"websocket".equalsIgnoreCase(req.getHeader("Upgrade"))) {
            throw Refusal.of(
                    dev.tether.errors.Condition.UPGRADE_REQUIRED,
                    "upgrade_required",
                    "GET " + req.path()
                            + " is the session WebSocket (send Upgrade: websocket); read the log over HTTP at"
                            + " /v1/sessions/" + s.id() + "/events");
        }
        String given = req.getParam("offset");
        ReadFrom from = StreamRequests.readOffset(req, true); // a malformed offset is a 400 before the upgrade
        boolean resuming = given != null && from instanceof ReadFrom.At;
        req.toWebSocket()
                .onSuccess(ws -> {
                    Pipelines.upgraded(req.connection());
                    TextSocket socket =
                            new TextSocket(ws, settings.maxMessageBytes(), settings.slowMillis(), settings.clock(), p);
                    new SessionSocket(socket, s, p, engine).start(from, resuming);
                })
                .onFailure(e -> ApiErrors.send(req.response(), e));
    }

    private void start(ReadFrom from, boolean resuming) {
        socket.start(this);
        leave = session.connect(principal.id(), SessionActions.connectRole(principal, session.id()));
        read(from, true, resuming);
    }

    private void read(ReadFrom from, boolean first, boolean resuming) {
        LoopExecutor.current()
                .adapt(first ? engine.read(session.path(), from) : engine.follow(session.path(), from))
                .onComplete(ar -> {
                    if (closed) {
                        return;
                    }
                    if (ar.failed()) {
                        fail(ar.cause());
                        return;
                    }
                    switch (ar.result()) {
                        case Rejection.Gone g
                        when first && resuming -> read(ReadFrom.START, true, false); // not recoverable
                        case Rejection r ->
                            fail(Refusal.of(ErrorTable.describe(r).condition(), null, r.message()));
                        case ReadResult.Data d -> deliver(d, first, resuming);
                    }
                });
    }

    private void deliver(ReadResult.Data raw, boolean first, boolean recovered) {
        if (first) {
            ObjectNode subscribed = Json.object()
                    .put("type", "subscribed")
                    .put("session", session.id())
                    .put("recovered", recovered)
                    .put("offset", engine.offsetOf(raw.stream(), raw.from()).toString());
            socket.sendOnLoop(Buffer.buffer(Json.bytes(subscribed)));
        }
        ReadResult.Data d = filter == null ? raw : filter.apply(raw);
        for (StoredMessage m : d.messages()) {
            Buffer frame = withOffset(Buffer.buffer(m.length() + 48), m.data(), engine.offsetOf(raw.stream(), m.end()));
            socket.sendOnLoop(frame); // through the writer now: the next read waits until it has room
        }
        ReadFrom next = new ReadFrom.At(raw.nextOffset());
        if (raw.upToDate()) {
            socket.whenDrained(() -> unwatch = engine.watch(
                    raw.stream(), raw.next(), () -> socket.context().runOnContext(v -> read(next, false, false))));
        } else {
            socket.whenDrained(() -> read(next, false, false));
        }
    }

    /**
     * Appends a stored entry (a JSON object) with a top-level {@code offset}: the offset just after
     * it, the value to resume from. The one rendering of an entry with its offset (WebSocket frames,
     * audit lines).
     */
    static Buffer withOffset(Buffer out, byte[] entry, Offset offset) {
        out.appendBytes(entry, 0, entry.length - 1); // the object without its closing brace
        return out.appendString(",\"offset\":\"" + offset + "\"}");
    }

    /** The log cannot be read (deleted, a bad offset): say why, then close. */
    private void fail(Throwable t) {
        socket.send(Buffer.buffer(ApiErrors.frame("session", session.id(), t, connectionId)));
        socket.context().runOnContext(v -> socket.close(TextSocket.POLICY, "the session log cannot be read"));
    }

    @Override
    public void onText(String text) {
        if (session.ended()) {
            // the session was reloaded from its log (after a failed write) or deleted: this socket's
            // view of it is gone; the client reconnects with its last offset
            socket.close(RELOADED, "the session was reloaded; reconnect with your last offset");
            return;
        }
        String ref = null;
        try {
            JsonNode frame = Json.parseRequest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            if (!frame.isObject()) {
                throw Refusal.invalid("type", "a client frame is a JSON object with a type");
            }
            ref = frame.path("ref").asText(null);
            String[] action = action(frame);
            String replyRef = ref;
            LoopExecutor.current()
                    .adapt(SessionActions.perform(session, principal, action[0], action[1], frame))
                    .onSuccess(result -> {
                        ObjectNode reply = Json.object().put("type", "reply");
                        reply.put("ref", replyRef);
                        reply.set("result", result);
                        socket.send(Buffer.buffer(Json.bytes(reply)));
                    })
                    .onFailure(e -> socket.send(Buffer.buffer(ApiErrors.frame("ref", replyRef, e, connectionId))));
        } catch (RuntimeException e) {
            socket.send(Buffer.buffer(ApiErrors.frame("ref", ref, e, connectionId)));
        }
    }

    /** A client frame's action and target, the same names as the HTTP routes'. */
    private static String[] action(JsonNode frame) {
        String type = frame.path("type").asText("");
        return switch (type) {
            case "message", "presence", "ack", "join", "floor" -> new String[] {type, null};
            case "signal" -> {
                String kind = frame.path("kind").asText("");
                yield switch (kind) {
                    case "cancel", "steer" -> new String[] {kind, required(frame, "run_id")};
                    case "approve", "deny" -> new String[] {kind, required(frame, "target")};
                    default -> throw Refusal.invalid("kind", "signal kind must be cancel, steer, approve or deny");
                };
            }
            case "run" -> {
                String a = frame.path("action").asText("");
                yield switch (a) {
                    case "start" -> new String[] {"run.start", null};
                    case "chunks", "end", "tool_call" -> new String[] {"run." + a, required(frame, "run_id")};
                    default -> throw Refusal.invalid("action", "run action must be start, chunks, end or tool_call");
                };
            }
            case "tool_output" -> new String[] {"tool.output", required(frame, "call_id")};
            default ->
                throw Refusal.invalid(
                        "type",
                        "unknown frame type '" + type
                                + "'; send message, signal, presence, ack, join, floor, run or tool_output");
        };
    }

    private static String required(JsonNode frame, String field) {
        JsonNode v = frame.get(field);
        if (v == null || !v.isTextual()) {
            throw Refusal.invalid(field, "missing required field '" + field + "'");
        }
        return v.asText();
    }

    @Override
    public void onTokenExpired(Refusal refusal) {
        socket.send(Buffer.buffer(ApiErrors.frame("session", session.id(), refusal, connectionId)));
    }

    @Override
    public void onClose() {
        closed = true;
        unwatch.run();
        leave.run();
    }
}
