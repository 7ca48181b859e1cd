package dev.tether.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.WebSocket;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An agent worker's place in one session: it has joined with role {@code agent}, follows the
 * session's log over the session WebSocket (reconnecting from the last offset it saw, so it never
 * misses or repeats an entry), keeps its presence lease alive with heartbeats, and hands each user
 * message to its {@link Handler} — one at a time, in order, on a worker thread of its own. On
 * start, user messages no run has answered yet (say, while a previous worker was down) are handed
 * over too.
 *
 * <p>Thread-safe. {@link #close()} stops following without leaving (a restarted worker picks the
 * session up); {@link #leave()} leaves.
 */
public final class AgentSession implements AutoCloseable {
    /** What the worker does with the session's user messages. */
    public interface Handler {
        /** Called on the session's worker thread; start a {@link Run} to answer. */
        void onMessage(AgentSession session, Message message) throws Exception;
    }

    /** A user's message. */
    public record Message(String id, String content, String from) {}

    private final TetherClient client;
    private final String id;
    private final Handler handler;
    private final ScheduledExecutorService timers;
    private final ExecutorService worker;
    private final Map<String, CompletableFuture<JsonNode>> replies = new ConcurrentHashMap<>();
    private final Map<String, Run> runs = new ConcurrentHashMap<>();
    private final AtomicLong refs = new AtomicLong();
    private final long heartbeatMillis;
    /** Where the log stood when this worker started: entries before it are history. */
    private final String startTail;
    /** User messages of the history that no run answered (yet), in order. */
    private final Map<String, Message> unanswered = new LinkedHashMap<>();

    private volatile WebSocket socket;
    private volatile String lastOffset = "-1";
    private volatile boolean caughtUp;
    private volatile boolean closed;

    private AgentSession(TetherClient client, String id, Handler handler, long presenceTimeoutMillis, String tail) {
        this.client = client;
        this.id = id;
        this.handler = handler;
        this.startTail = tail;
        this.heartbeatMillis = Math.max(50, presenceTimeoutMillis / 3);
        this.timers = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "tether-agent-timers-" + id));
        this.worker = Executors.newSingleThreadExecutor(r -> daemon(r, "tether-agent-" + id));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    static AgentSession join(TetherClient client, String sessionId, String name, Handler handler) {
        ObjectNode body = TetherClient.JSON.createObjectNode().put("role", "agent");
        if (name != null) {
            body.put("name", name);
        }
        client.call("POST", "/v1/sessions/" + sessionId + "/participants", body);
        JsonNode view = client.session(sessionId);
        long timeout = view.path("policy").path("presence_timeout_ms").asLong(10_000);
        AgentSession s = new AgentSession(
                client, sessionId, handler, timeout, view.path("next_offset").asText());
        s.connect();
        s.timers.scheduleWithFixedDelay(s::heartbeat, s.heartbeatMillis, s.heartbeatMillis, TimeUnit.MILLISECONDS);
        return s;
    }

    public String id() {
        return id;
    }

    TetherClient client() {
        return client;
    }

    ScheduledExecutorService timers() {
        return timers;
    }

    // ---- the session's log ----

    private void connect() {
        if (closed) {
            return;
        }
        URI http = client.base().resolve("/v1/sessions/" + id + "/ws?offset=" + lastOffset);
        URI ws = URI.create(http.toString().replaceFirst("^http", "ws"));
        WebSocket.Builder b = client.http().newWebSocketBuilder();
        String token = client.token();
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        try {
            socket = b.buildAsync(ws, new Listener()).get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TetherException(0, "interrupted", "interrupted while connecting to " + ws);
        } catch (ExecutionException | TimeoutException e) {
            if (closed) {
                return;
            }
            timers.schedule(this::connect, 500, TimeUnit.MILLISECONDS); // the server may be restarting
        }
    }

    /** Assembles text messages and hands each to {@link #onFrame}; reconnects when the socket ends. */
    private final class Listener implements WebSocket.Listener {
        private final StringBuilder text = new StringBuilder();

        /**
         * The socket is usable from here on: frames can arrive (and a caught-up history dispatch
         * a message whose handler sends on the socket) before {@code buildAsync} completes.
         */
        @Override
        public void onOpen(WebSocket ws) {
            socket = ws;
            ws.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                String frame = text.toString();
                text.setLength(0);
                try {
                    onFrame(TetherClient.JSON.readTree(frame));
                } catch (IOException | RuntimeException e) {
                    // a frame we cannot read is skipped; the offset of the next one still resumes right
                }
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            reconnect();
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            reconnect();
        }
    }

    private void reconnect() {
        for (String ref : List.copyOf(replies.keySet())) {
            CompletableFuture<JsonNode> r = replies.remove(ref);
            if (r != null) {
                r.completeExceptionally(new TetherException(0, "connection_lost", "the session socket closed"));
            }
        }
        if (!closed) {
            timers.schedule(this::connect, 200, TimeUnit.MILLISECONDS);
        }
    }

    private void onFrame(JsonNode f) {
        String type = f.path("type").asText();
        if (type.equals("reply") || type.equals("error")) {
            CompletableFuture<JsonNode> reply = replies.remove(f.path("ref").asText());
            if (reply != null) {
                if (type.equals("reply")) {
                    reply.complete(f.path("result"));
                } else {
                    JsonNode e = f.path("error");
                    reply.completeExceptionally(new TetherException(
                            f.path("status").asInt(),
                            e.path("code").asText(),
                            e.path("message").asText()));
                }
            }
            return;
        }
        if (!f.has("offset") || !f.has("key")) {
            return; // subscribed
        }
        String offset = f.path("offset").asText();
        lastOffset = offset;
        entry(
                type,
                f.path("key").asText(),
                f.path("value"),
                f.path("headers").path("operation").asText());
        if (!caughtUp && offset.compareTo(startTail) >= 0) {
            caughtUp();
        }
    }

    private void entry(String type, String key, JsonNode v, String operation) {
        switch (type) {
            case "message" -> {
                if (operation.equals("insert")
                        && v.path("role").asText().equals("user")
                        && v.path("visibility").asText("all").equals("all")) {
                    Message m = new Message(
                            key,
                            v.path("content").asText(),
                            v.path("actor").path("id").asText());
                    if (caughtUp) {
                        dispatch(m);
                    } else {
                        synchronized (unanswered) {
                            unanswered.put(key, m);
                        }
                    }
                }
            }
            case "run" -> {
                synchronized (unanswered) {
                    unanswered.remove(v.path("trigger").asText());
                }
                Run r = runs.get(key);
                if (r != null) {
                    r.status(v.path("status").asText());
                }
            }
            case "signal" -> {
                Run r = runs.get(v.path("run_id").asText());
                if (r != null && v.path("outcome").asText().equals("applied")) {
                    r.signal(v.path("kind").asText(), v.path("input").asText(null));
                }
            }
            case "tool_call" -> {
                Run r = runs.get(v.path("run_id").asText());
                if (r != null) {
                    r.toolCall(key, v.path("status").asText(), v);
                }
            }
            default -> {}
        }
    }

    /** Caught up with the log as it was at start: the history's unanswered messages are handled now. */
    private void caughtUp() {
        List<Message> pending;
        synchronized (unanswered) {
            caughtUp = true;
            pending = new ArrayList<>(unanswered.values());
            unanswered.clear();
        }
        pending.forEach(this::dispatch);
    }

    private void dispatch(Message m) {
        worker.execute(() -> {
            try {
                handler.onMessage(this, m);
            } catch (Exception e) {
                System.getLogger(AgentSession.class.getName())
                        .log(System.Logger.Level.WARNING, "the handler failed on message " + m.id(), e);
            }
        });
    }

    // ---- actions ----

    /** Sends a client frame and returns the server's reply (its {@code result}). */
    CompletableFuture<JsonNode> send(ObjectNode frame) {
        String ref = "r" + refs.incrementAndGet();
        frame.put("ref", ref);
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        replies.put(ref, reply);
        WebSocket ws = socket;
        if (ws == null) {
            replies.remove(ref);
            return CompletableFuture.failedFuture(new TetherException(0, "not_connected", "not connected"));
        }
        synchronized (this) { // one text message at a time on the socket
            try {
                ws.sendText(frame.toString(), true).get(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                reply.completeExceptionally(e);
            } catch (ExecutionException | TimeoutException e) {
                replies.remove(ref);
                reply.completeExceptionally(new TetherException(0, "send_failed", String.valueOf(e.getMessage())));
            }
        }
        return reply;
    }

    static JsonNode await(CompletableFuture<JsonNode> reply) {
        try {
            return reply.get(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TetherException(0, "interrupted", "interrupted while waiting for the server");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof TetherException t ? t : new TetherException(0, "failed", e.getMessage());
        } catch (TimeoutException e) {
            throw new TetherException(0, "timeout", "no answer within 60 s");
        }
    }

    /** Starts a run answering {@code messageId} (or null) and returns it; write to it, then complete it. */
    public Run startRun(String messageId) {
        ObjectNode frame =
                TetherClient.JSON.createObjectNode().put("type", "run").put("action", "start");
        if (messageId != null) {
            frame.put("trigger", messageId);
        }
        JsonNode run = await(send(frame));
        Run r = new Run(this, run.path("id").asText());
        runs.put(r.id(), r);
        return r;
    }

    void forget(Run r) {
        runs.remove(r.id());
    }

    private void heartbeat() {
        boolean busy = runs.values().stream().anyMatch(Run::active);
        ObjectNode frame = TetherClient.JSON
                .createObjectNode()
                .put("type", "presence")
                .put("agent_status", busy ? "streaming" : "idle");
        send(frame); // best effort: a missed heartbeat is covered by the next (and by the connection)
    }

    /** Leaves the session (its presence goes offline) and stops. */
    public void leave() {
        client.call("DELETE", "/v1/sessions/" + id + "/participants/" + participantId(), null);
        close();
    }

    private String participantId() {
        for (JsonNode p : client.session(id).path("participants")) {
            if (p.path("role").asText().equals("agent") && p.path("left_at").isNull()) {
                return p.path("id").asText();
            }
        }
        throw new TetherException(404, "not_found", "this agent is not a participant of " + id);
    }

    /** Stops following the session without leaving it (runs in progress are left to the server's lease). */
    @Override
    public void close() {
        closed = true;
        timers.shutdownNow();
        worker.shutdownNow();
        WebSocket ws = socket;
        if (ws != null) {
            ws.abort();
        }
        replies.values()
                .forEach(r -> r.completeExceptionally(new TetherException(0, "closed", "the agent session closed")));
    }
}
