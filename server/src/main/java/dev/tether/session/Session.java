package dev.tether.session;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One live session: its materialised state and the rules that change it (SESSIONS.md). Every
 * change is a list of {@link Entry entries} applied to the state and appended to the session's
 * log in one atomic append, under this object's lock, so the log's order is the order of the
 * changes; a caller's stage completes once its entries are durable.
 *
 * <p>Thread-safe: every method takes the session's lock ({@code synchronized (this)}); {@link
 * RunBook}, {@link Presence} and {@link AgentContext} are confined to it.
 */
public final class Session {
    private static final System.Logger LOG = System.getLogger(Session.class.getName());

    private final String id;
    private final SessionContext ctx;
    private final SessionPolicy policy;
    private final ObjectNode agent;
    private final SessionState state = new SessionState();
    final Presence presence;
    final RunBook runs;
    final AgentContext context = new AgentContext();
    private final Floor floor = new Floor(this);
    private final Runnable onBroken;
    private boolean ended;
    /** The latest append to the log (see {@link #written}); written under the session's lock. */
    private CompletionStage<Void> lastWrite = CompletableFuture.completedFuture(null);

    Session(String id, SessionContext ctx, SessionPolicy policy, ObjectNode agent, Runnable onBroken) {
        this.id = id;
        this.ctx = ctx;
        this.policy = policy;
        this.agent = agent;
        this.onBroken = onBroken;
        this.presence = new Presence(this);
        this.runs = new RunBook(this);
    }

    public String id() {
        return id;
    }

    /** The log's stream path. */
    public String path() {
        return path(id);
    }

    static String path(String id) {
        return "sessions/" + id;
    }

    SessionPolicy policy() {
        return policy;
    }

    SessionContext ctx() {
        return ctx;
    }

    /** The built-in agent's configuration, or null when an external agent answers. */
    ObjectNode agent() {
        return agent;
    }

    boolean hasBuiltInAgent() {
        return agent != null;
    }

    SessionState state() {
        return state;
    }

    // ---- writing ----

    /** An entry whose value gets {@code actor} and {@code at}. */
    Entry entry(String type, String key, String operation, Actor actor, ObjectNode value) {
        value.set("actor", actor.toJson());
        value.put("at", ctx.now());
        return new Entry(type, key, operation, value);
    }

    /** The current value of an entity, copied so it can be changed into the next version. */
    ObjectNode copy(String type, String key) {
        ObjectNode v = state.get(type, key);
        return v == null ? null : v.deepCopy();
    }

    /** Applies {@code entries} and appends them to the log as one write; completes once durable. */
    CompletionStage<Void> write(List<Entry> entries) {
        if (ended) {
            return CompletableFuture.failedFuture(gone());
        }
        if (entries.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        List<byte[]> encoded = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            apply(e);
            encoded.add(e.encode());
        }
        CompletionStage<Void> appended = ctx.docs()
                .append(path(), encoded, false)
                .whenComplete((ok, failure) -> {
                    if (failure != null) {
                        // The state already holds entries the log may not: this object stops (its model
                        // turns too), and the session is loaded again from its log on next use.
                        LOG.log(
                                System.Logger.Level.WARNING,
                                "session " + id + ": a write failed: " + failure.getMessage());
                        synchronized (this) {
                            if (!ended) {
                                runs.abandon();
                                ended = true;
                            }
                        }
                        onBroken.run();
                    }
                });
        lastWrite = appended;
        return appended;
    }

    /**
     * Completes once every entry applied so far is durable, or fails if a write did: appends to the
     * session's log complete in order, so the latest one covers all before it. The state is applied
     * before its write is durable, so a view of it waits for this.
     */
    public synchronized CompletionStage<Void> written() {
        return lastWrite;
    }

    CompletionStage<Void> write(Entry... entries) {
        return write(List.of(entries));
    }

    /** Replays one entry of the log at load time (no write). */
    void replay(Entry e) {
        apply(e);
    }

    private void apply(Entry e) {
        state.apply(e);
        if (hasBuiltInAgent()) {
            context.observe(e, this);
        }
        if (e.type().equals("run")
                && RunBook.TERMINAL.contains(e.value().path("status").asText())) {
            state.forgetChunks(e.key());
        }
    }

    Refusal gone() {
        return Refusal.notFound("session", "session " + id + " does not exist (it was deleted or expired)");
    }

    // ---- participants ----

    /** The actor for {@code principal}, or null when it has not joined (or has left). */
    synchronized Actor actorOf(String principal) {
        ObjectNode p = state.get("participant", principal);
        if (p == null || !p.path("left_at").isNull() && p.has("left_at")) {
            return null;
        }
        return new Actor(principal, p.path("role").asText());
    }

    /** Joins {@code principal} with {@code role}; a repeat with the same role returns the participant. */
    public synchronized CompletionStage<ObjectNode> join(String principal, Role role, String name) {
        ObjectNode current = state.get("participant", principal);
        boolean present = current != null && current.path("left_at").isNull();
        if (present
                && current.path("role").asText().equals(role.wire())
                && (name == null || name.equals(current.path("name").asText()))) {
            return CompletableFuture.completedFuture(current);
        }
        Actor actor = new Actor(principal, role.wire());
        ObjectNode v = Entry.JSON.createObjectNode();
        v.put("id", principal);
        v.put("role", role.wire());
        v.put(
                "name",
                name != null ? name : current != null ? current.path("name").asText(principal) : principal);
        v.put("joined_at", present ? current.path("joined_at").asText() : ctx.now());
        v.putNull("left_at");
        List<Entry> entries = new ArrayList<>();
        entries.add(entry("participant", principal, current == null ? "insert" : "update", actor, v));
        if (role == Role.AGENT && !hasBuiltInAgent()) {
            Entry floor = this.floor.afterAgentJoined(principal, actor);
            if (floor != null) {
                entries.add(floor);
            }
        }
        presence.touch(actor, entries);
        return write(entries).thenApply(x -> v);
    }

    /** Joins as a user unless already a participant: posting a message is joining. */
    synchronized Actor ensureJoined(String principal, Role role, List<Entry> entries) {
        Actor existing = actorOf(principal);
        if (existing != null) {
            return existing;
        }
        Actor actor = new Actor(principal, role.wire());
        ObjectNode v = Entry.JSON.createObjectNode();
        v.put("id", principal);
        v.put("role", role.wire());
        v.put("name", principal);
        v.put("joined_at", ctx.now());
        v.putNull("left_at");
        entries.add(entry(
                "participant", principal, state.get("participant", principal) == null ? "insert" : "update", actor, v));
        return actor;
    }

    public synchronized CompletionStage<ObjectNode> leave(String principal, Actor by) {
        ObjectNode v = copy("participant", principal);
        if (v == null || !v.path("left_at").isNull()) {
            throw Refusal.notFound("participant", principal + " is not a participant of session " + id);
        }
        v.put("left_at", ctx.now());
        List<Entry> entries = new ArrayList<>();
        entries.add(entry("participant", principal, "update", by, v));
        presence.left(principal, by, entries);
        CompletionStage<Void> written = write(entries);
        if (runs.activeFor(principal)) {
            runs.agentLost(principal, new ArrayList<>()); // an agent that left answers no more
        }
        return written.thenApply(x -> v);
    }

    // ---- messages ----

    /**
     * A participant's message; returns {@code {message, run}} with the run it started or queued,
     * or null. A message id seen before returns the original (idempotent retry).
     */
    public synchronized CompletionStage<ObjectNode> post(String principal, Role joinAs, JsonNode body) {
        String content = Fields.string(body, "content", true);
        String clientId = Fields.string(body, "id", false);
        String visibility = Fields.string(body, "visibility", false);
        if (visibility == null) {
            visibility = "all";
        } else if (!visibility.equals("all") && !visibility.equals("operators")) {
            throw Refusal.invalid("visibility", "visibility must be all or operators; got '" + visibility + "'");
        }
        String key = clientId != null ? SessionIds.client("id", clientId) : SessionIds.of("msg_");
        ObjectNode existing = state.get("message", key);
        if (existing != null) {
            if (!existing.path("actor").path("id").asText().equals(principal)) {
                // a retry is its author's: anyone else learns nothing about the message by its id
                throw Refusal.of(Condition.CONFLICT, "message_id_taken", "message id " + key + " is already used");
            }
            return CompletableFuture.completedFuture(result(existing, runs.triggeredBy(key)));
        }
        List<Entry> entries = new ArrayList<>();
        Actor actor = ensureJoined(principal, joinAs, entries);
        Role role = Role.parse(actor.role());
        if (role == Role.OBSERVER) {
            throw Refusal.of(Condition.FORBIDDEN, "observer", "observers cannot post messages in session " + id);
        }
        if (visibility.equals("operators") && role == Role.USER) {
            throw Refusal.of(
                    Condition.FORBIDDEN, "whisper_not_allowed", "a user cannot whisper; join as operator first");
        }
        ObjectNode m = Entry.JSON.createObjectNode();
        m.put("id", key);
        m.put("role", role.wire());
        m.put("content", content);
        m.put("visibility", visibility);
        m.putNull("run_id");
        Entry message = entry("message", key, "insert", actor, m);
        presence.touch(actor, entries);
        boolean answerable = role == Role.USER && visibility.equals("all");
        // rule 3: the policy applies before anything is written, so a rejection leaves no message
        ObjectNode run = answerable ? runs.onUserMessage(key, actor, entries, message) : null;
        if (!entries.contains(message)) {
            entries.add(message);
        }
        CompletionStage<Void> written = write(entries);
        runs.launchReady();
        return written.thenApply(x -> result(m, run));
    }

    private static ObjectNode result(ObjectNode message, ObjectNode run) {
        ObjectNode out = Entry.JSON.createObjectNode();
        out.set("message", message);
        out.set("run", run);
        return out;
    }

    // ---- floor ----

    ObjectNode floor() {
        return floor.current();
    }

    boolean humanHoldsFloor() {
        return floor.humanHoldsFloor();
    }

    Entry initialFloor() {
        return floor.initial();
    }

    /** {@code take}, {@code supervise}, {@code release} or {@code return} (SESSIONS.md rule 6). */
    public synchronized CompletionStage<ObjectNode> floor(String principal, Role joinAs, String action, String to) {
        return floor.change(principal, joinAs, action, to);
    }

    // ---- presence ----

    /**
     * A live connection (SSE, long-poll, WebSocket) of {@code principal} opened: one more device.
     * A principal that has not joined joins with {@code role}. Returns what to call when it closes.
     */
    public synchronized Runnable connect(String principal, Role role) {
        List<Entry> entries = new ArrayList<>();
        Actor actor = ensureJoined(principal, role, entries);
        presence.connected(actor, entries);
        write(entries);
        boolean[] closed = new boolean[1];
        return () -> {
            synchronized (Session.this) {
                if (closed[0] || ended) {
                    return;
                }
                closed[0] = true;
                List<Entry> out = new ArrayList<>();
                presence.disconnected(actor, out);
                if (!out.isEmpty()) {
                    write(out);
                }
            }
        };
    }

    /** A sign of life without a device (a long-poll): renews the lease, online if it was not. */
    public synchronized void touch(String principal, Role role) {
        List<Entry> entries = new ArrayList<>();
        Actor actor = ensureJoined(principal, role, entries);
        presence.touch(actor, entries);
        if (!entries.isEmpty()) {
            write(entries);
        }
    }

    /** {@code POST …/presence}: a heartbeat with a status and, for agents, an agent status. */
    public synchronized CompletionStage<ObjectNode> heartbeat(
            String principal, Role joinAs, String status, String agentStatus) {
        List<Entry> entries = new ArrayList<>();
        Actor actor = ensureJoined(principal, joinAs, entries);
        presence.heartbeat(actor, status, agentStatus, entries);
        CompletionStage<Void> written = write(entries);
        ObjectNode now = state.get("presence", principal); // read under the lock, not on the writer's thread
        return written.thenApply(x -> now);
    }

    // ---- acting as a participant ----

    /** Runs {@code action} under the session's lock as the participant behind {@code principal}; 403 unless joined. */
    synchronized <T> T asParticipant(String principal, java.util.function.Function<Actor, T> action) {
        Actor a = actorOf(principal);
        if (a == null) {
            throw Refusal.of(
                    Condition.FORBIDDEN,
                    "not_a_participant",
                    principal + " has not joined session " + id + "; POST /v1/sessions/" + id + "/participants first");
        }
        return action.apply(a);
    }

    /** Like {@link #asParticipant}, joining {@code principal} with {@code role} first if it has not joined. */
    synchronized <T> T asJoined(String principal, Role role, java.util.function.Function<Actor, T> action) {
        List<Entry> entries = new ArrayList<>();
        Actor actor = ensureJoined(principal, role, entries);
        write(entries);
        return action.apply(actor);
    }

    // ---- delivery ----

    /** Records the highest offset a participant's device acknowledged; a lower one changes nothing. */
    public synchronized CompletionStage<ObjectNode> ack(String principal, Role joinAs, String device, String offset) {
        List<Entry> entries = new ArrayList<>();
        Actor actor = ensureJoined(principal, joinAs, entries);
        String key = principal + ":" + (device == null ? "default" : SessionIds.client("device", device));
        ObjectNode current = state.get("delivery", key);
        if (current != null && current.path("offset").asText().compareTo(offset) >= 0 && entries.isEmpty()) {
            return CompletableFuture.completedFuture(current);
        }
        ObjectNode v = Entry.JSON.createObjectNode();
        v.put("participant", principal);
        v.put("device", device == null ? "default" : device);
        v.put("offset", offset);
        entries.add(entry("delivery", key, current == null ? "insert" : "update", actor, v));
        return write(entries).thenApply(x -> v);
    }

    // ---- lifecycle ----

    /** The server's periodic check: leases, approval timeouts, unwatched runs. */
    synchronized void tick(long now) {
        if (ended) {
            return;
        }
        List<Entry> entries = new ArrayList<>();
        presence.tick(now, entries);
        runs.tick(now, entries);
        if (!entries.isEmpty()) {
            write(entries);
        }
    }

    /** The node is stopping: runs in progress end failed, and nothing more is written. */
    synchronized void shutdown() {
        if (!ended) {
            runs.shutdown();
            ended = true;
        }
    }

    /** Stops everything running; the log is deleted by the service. */
    synchronized void end() {
        runs.abandon();
        ended = true;
    }

    /** Live connections of every participant. */
    synchronized int devices() {
        return presence.devices();
    }

    public boolean ended() {
        return ended;
    }

    /**
     * The materialised state for {@code GET /v1/sessions/<id>}, as applied so far: answer it only
     * once {@link #written} completes, so a client never sees what a crash could still take back
     * (a run shown as ended whose final record is not yet in the log).
     */
    public synchronized ObjectNode view() {
        ObjectNode s = state.get("session", id).deepCopy();
        s.put("id", id);
        s.put("object", "session");
        s.set("participants", array(state.all("participant")));
        s.set("presence", array(state.all("presence")));
        s.set("floor", floor());
        s.set("runs", runs.activeViews());
        s.put("watching_devices", presence.userDevices());
        return s;
    }

    private static com.fasterxml.jackson.databind.node.ArrayNode array(Iterable<ObjectNode> values) {
        var a = Entry.JSON.createArrayNode();
        values.forEach(a::add);
        return a;
    }
}
