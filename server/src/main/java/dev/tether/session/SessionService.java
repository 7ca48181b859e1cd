package dev.tether.session;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.metrics.Metrics;
import dev.tether.responses.ParamsParser;
import dev.tether.responses.ResponseService;
import dev.tether.stream.CreateRequest;
import dev.tether.stream.Offset;
import dev.tether.stream.Rejection;
import dev.tether.stream.StreamDocs;
import dev.tether.stream.StreamEngine;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The sessions of a node (SESSIONS.md): creates them, loads them from their logs (at start, and
 * again after a failed write), deletes them, and runs the periodic checks (leases, approval
 * timeouts, unwatched runs, TTL). A session's log is the durable stream {@code sessions/<id>};
 * nothing else about a session is stored.
 *
 * <p>Thread-safe.
 */
public final class SessionService implements AutoCloseable {
    /** The capability resource prefix: {@code sessions/<id>}. */
    public static final String RESOURCE = "sessions/";

    private static final System.Logger LOG = System.getLogger(SessionService.class.getName());
    private static final Set<String> CREATE_FIELDS = Set.of("agent", "policy", "metadata", "ttl");
    private static final long TICK_MILLIS = 100;

    private final StreamEngine engine;
    private final SessionContext ctx;
    private final ScheduledExecutorService timers;
    private final Map<String, CompletableFuture<Session>> sessions = new ConcurrentHashMap<>();
    /** Whether the start-up load is done: a later load follows a failed write, not a restart. */
    private volatile boolean started;

    public SessionService(StreamEngine engine, ResponseService responses, InstantSource clock, Metrics metrics) {
        this.engine = engine;
        this.timers = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tether-sessions");
            t.setDaemon(true);
            return t;
        });
        this.ctx = new SessionContext(new StreamDocs(engine, null), clock, timers, responses, metrics);
        metrics.sessions(this, s -> s.sessions.size(), SessionService::devices);
    }

    /** Loads every session from its log (ending what a restart interrupted), then starts the checks. */
    public void start() {
        for (String path : engine.paths(RESOURCE)) {
            String id = path.substring(RESOURCE.length());
            if (SessionIds.sessionId(id)) {
                try {
                    get(id).toCompletableFuture().join();
                } catch (CompletionException e) {
                    LOG.log(System.Logger.Level.WARNING, "session " + id + " could not be loaded: " + e.getCause());
                }
            }
        }
        started = true;
        timers.scheduleWithFixedDelay(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
    }

    private void tick() {
        long now = ctx.clock().millis();
        for (var e : sessions.entrySet()) {
            CompletableFuture<Session> f = e.getValue();
            if (!f.isDone() || f.isCompletedExceptionally()) {
                continue;
            }
            Session s = f.join();
            try {
                if (!ctx.docs().exists(s.path())) {
                    sessions.remove(e.getKey(), f); // expired (TTL) or deleted behind our back
                    s.end();
                } else {
                    s.tick(now);
                }
            } catch (RuntimeException ex) {
                LOG.log(System.Logger.Level.ERROR, "session " + s.id() + ": periodic check failed", ex);
            }
        }
    }

    /** {@code POST /v1/sessions}: validates the body, writes the log's first entries. */
    public CompletionStage<Session> create(String creator, JsonNode body) {
        if (body != null && !body.isObject() && !body.isNull()) {
            throw Refusal.invalid(null, "the body must be a JSON object (or empty)");
        }
        if (body != null) {
            for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!CREATE_FIELDS.contains(f)) {
                    throw Refusal.invalid(f, "unknown field '" + f + "'; accepted: " + CREATE_FIELDS);
                }
            }
        }
        ObjectNode agent = agent(body == null ? null : body.get("agent"));
        SessionPolicy policy = SessionPolicy.parse(body == null ? null : body.get("policy"));
        JsonNode metadata = body == null ? null : body.get("metadata");
        if (metadata != null && !metadata.isNull() && !metadata.isObject()) {
            throw Refusal.invalid("metadata", "metadata must be an object");
        }
        Long ttl = ttl(body == null ? null : body.get("ttl"));
        String id = SessionIds.session();
        CompletableFuture<Session> loaded = new CompletableFuture<>();
        Session s = new Session(id, ctx, policy, agent, () -> sessions.remove(id, loaded));
        List<byte[]> first = new ArrayList<>();
        synchronized (s) {
            ObjectNode v = Entry.JSON.createObjectNode();
            v.put("id", id);
            v.put("status", "open");
            v.set("agent", agent);
            v.set("policy", policy.toJson());
            v.set("metadata", metadata == null || metadata.isNull() ? Entry.JSON.createObjectNode() : metadata);
            if (ttl != null) {
                v.put("ttl", ttl);
            }
            v.put("created_by", creator);
            List<Entry> entries = new ArrayList<>();
            entries.add(s.entry("session", id, "insert", new Actor(creator, "creator"), v));
            entries.add(s.initialFloor());
            if (agent != null) {
                s.presence.agentStatus(Actor.BUILT_IN_AGENT, "idle", entries);
            }
            for (Entry e : entries) {
                s.replay(e);
                first.add(e.encode());
            }
        }
        sessions.put(id, loaded);
        return engine.create(new CreateRequest(s.path(), StreamDocs.JSON, ttl, null, false, first, null))
                .whenComplete((r, failure) -> {
                    if (failure != null) {
                        sessions.remove(id, loaded);
                        loaded.completeExceptionally(failure);
                    }
                })
                .thenApply(r -> {
                    if (r instanceof Rejection rejection) {
                        sessions.remove(id, loaded);
                        throw new CompletionException(Refusal.of(
                                Condition.UNAVAILABLE,
                                "store_unavailable",
                                "the session could not be stored: " + rejection.message()));
                    }
                    loaded.complete(s);
                    return s;
                });
    }

    private ObjectNode agent(JsonNode agent) {
        if (agent == null || agent.isNull()) {
            return null;
        }
        if (!agent.isObject()) {
            throw Refusal.invalid("agent", "agent must be an object {model, instructions, tools}");
        }
        ObjectNode a = ((ObjectNode) agent).deepCopy();
        for (Iterator<String> it = a.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!Set.of("model", "instructions", "tools", "require_approval", "temperature", "max_output_tokens")
                    .contains(f)) {
                throw Refusal.invalid(
                        "agent." + f,
                        "unknown agent field '" + f
                                + "'; accepted: model, instructions, tools, require_approval, temperature, max_output_tokens");
            }
        }
        if (a.has("require_approval") && !a.get("require_approval").isArray()) {
            throw Refusal.invalid("agent.require_approval", "agent.require_approval must be an array of tool names");
        }
        ObjectNode probe = a.deepCopy();
        probe.remove("require_approval");
        probe.putArray("input");
        ParamsParser.parse(probe); // the agent's turns will be Responses API requests: refuse a bad one now
        if (ctx.responses().backendDescription().equals("none")) {
            throw Refusal.of(
                    Condition.NOT_CONFIGURED,
                    "no_backend",
                    "a session with a built-in agent needs a model backend: start Tether with --model or --upstream");
        }
        return a;
    }

    private static Long ttl(JsonNode ttl) {
        if (ttl == null || ttl.isNull()) {
            return null;
        }
        if (!ttl.isIntegralNumber() || ttl.asLong() < 1 || ttl.asLong() > 365L * 86_400) {
            throw Refusal.invalid(
                    "ttl", "ttl must be whole seconds from 1 to 31536000 (the session expires after that long idle)");
        }
        return ttl.asLong();
    }

    /** The session {@code id}, loading it from its log if needed; a 404 Refusal when there is none. */
    public CompletionStage<Session> get(String id) {
        if (!SessionIds.sessionId(id)) {
            return CompletableFuture.failedFuture(notFound(id));
        }
        CompletableFuture<Session> cached = sessions.computeIfAbsent(id, this::load);
        if (cached.isDone()
                && !cached.isCompletedExceptionally()
                && cached.join().ended()) {
            sessions.remove(id, cached); // a session object that stopped after a failed write: load it again
        }
        CompletableFuture<Session> f = sessions.computeIfAbsent(id, this::load);
        f.whenComplete((s, e) -> {
            if (e != null) {
                sessions.remove(id, f);
            }
        });
        return f;
    }

    static Refusal notFound(String id) {
        return Refusal.notFound("session", "session " + id + " does not exist");
    }

    private CompletableFuture<Session> load(String id) {
        String path = Session.path(id);
        // On the timer thread, never inside computeIfAbsent: a load whose fix-up write fails at once
        // would otherwise remove its own entry from the map while it is being computed.
        return ctx.docs()
                .readAll(path)
                .thenApplyAsync(
                        contents -> {
                            if (contents == null || contents.messages().isEmpty()) {
                                throw new CompletionException(notFound(id));
                            }
                            return SessionLoader.load(
                                    id,
                                    ctx,
                                    contents.messages(),
                                    () -> sessions.remove(id),
                                    started ? "session_reloaded" : "server_restart");
                        },
                        timers)
                .toCompletableFuture();
    }

    /** {@code DELETE}: stops its runs and deletes its log. */
    public CompletionStage<Void> delete(String id) {
        return get(id).thenCompose(s -> {
            s.end();
            sessions.remove(id);
            return ctx.docs().delete(s.path()).thenAccept(deleted -> {});
        });
    }

    /** Every entry with the offset just after it, for the audit export. */
    public CompletionStage<StreamDocs.Contents> log(String id) {
        return get(id).thenCompose(s -> ctx.docs().readAll(s.path())).thenApply(c -> {
            if (c == null) {
                throw new CompletionException(notFound(id));
            }
            return c;
        });
    }

    /** The log folded into one insert per entity, and the offset the tail continues from. */
    public record Snapshot(List<Entry> entries, Offset next) {}

    /** @param whispers whether the reader may see whispers (holds {@code floor}); if not, they are left out */
    public CompletionStage<Snapshot> snapshot(String id, boolean whispers) {
        return log(id).thenApply(c -> {
            SessionState state = new SessionState();
            for (byte[] m : c.messages()) {
                if (whispers || !Entry.whisper(m)) {
                    state.apply(Entry.decode(m));
                }
            }
            return new Snapshot(state.asInserts(), c.tail());
        });
    }

    /** Live connections to the loaded sessions (for the gauge). */
    private double devices() {
        int n = 0;
        for (CompletableFuture<Session> f : sessions.values()) {
            if (f.isDone() && !f.isCompletedExceptionally()) {
                n += f.join().devices();
            }
        }
        return n;
    }

    /** Ids of the loaded sessions (for listing). */
    public List<String> ids() {
        return sessions.keySet().stream().sorted().toList();
    }

    /** Ends the runs in progress ({@code server_shutdown}) and stops the timers; call before the engine closes. */
    @Override
    public void close() {
        timers.shutdownNow();
        sessions.values().forEach(f -> {
            if (f.isDone() && !f.isCompletedExceptionally()) {
                f.join().shutdown();
            }
        });
    }
}
