package dev.tether.session;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;

/**
 * The runs of one session: starting them (multitask policy, floor), their chunks with rollup,
 * how they end, and the signals that act on them. A run is one growing record (SESSIONS.md §2):
 * the {@code run} entity holds status and, once it ends, the whole text; {@code chunk} entities
 * hold the text as it was delivered, merged over {@code rollup_ms}, so a replay shows exactly
 * what live readers saw (rule 8).
 *
 * <p>Confined to the session's lock.
 */
final class RunBook {
    static final Set<String> TERMINAL = Set.of("completed", "cancelled", "failed", "incomplete");
    /** Active (queued or running) built-in runs per session at most: a flood of messages is a 429, not a queue without end. */
    static final int MAX_ACTIVE = 32;

    private final Session session;
    private final Map<String, Run> active = new LinkedHashMap<>();
    final ToolCalls tools;
    final BuiltInTurns turns;
    final Signals signals;
    final Rollup rollup;

    RunBook(Session session) {
        this.session = session;
        this.tools = new ToolCalls(session, this);
        this.turns = new BuiltInTurns(session, this);
        this.signals = new Signals(session, this);
        this.rollup = new Rollup(session, this);
    }

    private long now() {
        return session.ctx().clock().millis();
    }

    Run active(String runId) {
        return active.get(runId);
    }

    /** The active runs, in the order they started (a copy). */
    List<Run> activeRuns() {
        return List.copyOf(active.values());
    }

    boolean activeFor(String agentId) {
        return active.values().stream().anyMatch(r -> r.agent.equals(agentId));
    }

    /** The run a message started, for an idempotent retry of that message. */
    ObjectNode triggeredBy(String messageKey) {
        for (ObjectNode r : session.state().all("run")) {
            if (messageKey.equals(r.path("trigger").asText(null))) {
                return r;
            }
        }
        return null;
    }

    private boolean busy() {
        return active.values().stream().anyMatch(r -> !r.status(session).equals("queued") || r.launching);
    }

    // ---- starting ----

    /**
     * Rule 3 for a user's message: returns the run it starts or queues (built-in agent), or null.
     * A {@code reject} while a run is active writes a rejected signal and refuses with 409.
     */
    ObjectNode onUserMessage(String messageKey, Actor author, List<Entry> out, Entry message) {
        if (session.humanHoldsFloor()) {
            return null; // rule 6: the human answers
        }
        boolean anyActive = !active.isEmpty();
        Multitask policy = session.policy().multitask();
        if (anyActive && policy == Multitask.REJECT) {
            ObjectNode sig = signals.signal(
                    "message",
                    null,
                    messageKey,
                    null,
                    "rejected",
                    "a run is active and the session's multitask policy is reject");
            out.add(signals.signalEntry(author, sig));
            throw new RecordedRefusal(
                    Refusal.of(
                            Condition.CONFLICT,
                            "run_active",
                            "a run is active in session " + session.id() + " and its multitask policy is reject;"
                                    + " wait for it to end or cancel it"),
                    session.write(out));
        }
        if (anyActive && policy == Multitask.INTERRUPT) {
            signals.cancelAll(author, "interrupted", out);
        }
        if (!session.hasBuiltInAgent()) {
            return null; // the external agent sees the message and decides
        }
        if (active.size() >= MAX_ACTIVE) {
            throw Refusal.of(
                    Condition.RATE_LIMITED,
                    "too_many_runs",
                    "session " + session.id() + " has " + MAX_ACTIVE + " runs queued or running; wait for some to end");
        }
        out.add(message);
        String runId = SessionIds.of("run_");
        ObjectNode v = newRun(runId, messageKey, "queued", Actor.BUILT_IN_AGENT.id());
        out.add(session.entry("run", runId, "insert", author, v));
        active.put(runId, new Run(runId, Actor.BUILT_IN_AGENT.id(), true, messageKey, now()));
        return v;
    }

    /** A new run's record: every field present from the first version (the State Protocol merges updates). */
    static ObjectNode newRun(String runId, String trigger, String status, String agent) {
        ObjectNode v = Entry.JSON.createObjectNode();
        v.put("id", runId);
        v.put("trigger", trigger);
        v.put("status", status);
        v.put("agent", agent);
        v.putNull("response_id");
        v.put("text", "");
        v.putNull("error");
        v.putNull("usage");
        return v;
    }

    /** Starts queued built-in runs the policy allows now; call after the write that queued them. */
    void launchReady() {
        if (session.humanHoldsFloor() || session.ended()) {
            return;
        }
        boolean concurrent = session.policy().multitask() == Multitask.CONCURRENT;
        for (Run r : List.copyOf(active.values())) {
            if (!r.builtIn || r.launching || !r.status(session).equals("queued")) {
                continue;
            }
            if (!concurrent && busy()) {
                return;
            }
            turns.launch(r, null);
        }
    }

    /** {@code POST …/runs}: an external agent starts a run. */
    CompletionStage<ObjectNode> startExternal(Actor agent, String trigger) {
        if (!agent.role().equals(Role.AGENT.wire())) {
            throw Refusal.of(
                    Condition.FORBIDDEN,
                    "not_an_agent",
                    agent.id() + " is a " + agent.role() + " in this session; join with role agent to write runs");
        }
        if (session.humanHoldsFloor()) {
            throw Refusal.of(
                    Condition.CONFLICT,
                    "floor_held",
                    "a human holds the floor of session " + session.id()
                            + "; the agent starts no run until it is returned");
        }
        if (active.size() >= MAX_ACTIVE) {
            throw Refusal.of(
                    Condition.RATE_LIMITED,
                    "too_many_runs",
                    "session " + session.id() + " has " + MAX_ACTIVE + " runs in progress; end some first");
        }
        if (trigger != null && session.state().get("message", trigger) == null) {
            throw Refusal.invalid("trigger", "no message " + trigger + " in session " + session.id());
        }
        List<Entry> out = new ArrayList<>();
        String runId = SessionIds.of("run_");
        ObjectNode v = newRun(runId, trigger, "running", agent.id());
        out.add(session.entry("run", runId, "insert", agent, v));
        session.presence.touch(agent, out);
        session.presence.agentStatus(agent, "streaming", out);
        active.put(runId, new Run(runId, agent.id(), false, trigger, now()));
        return session.write(out).thenApply(x -> v);
    }

    /** The external agent's own run, active; 404 or 409 otherwise. */
    Run ownRun(Actor agent, String runId) {
        Run r = active.get(runId);
        if (r == null) {
            if (session.state().get("run", runId) == null) {
                throw Refusal.notFound("run", "no run " + runId + " in session " + session.id());
            }
            throw Refusal.of(
                    Condition.CONFLICT,
                    "run_ended",
                    "run " + runId + " has ended ("
                            + session.state().get("run", runId).path("status").asText() + ")");
        }
        if (r.builtIn || !r.agent.equals(agent.id())) {
            throw Refusal.of(Condition.FORBIDDEN, "not_your_run", "run " + runId + " belongs to " + r.agent);
        }
        return r;
    }

    // ---- ending ----

    /** {@code POST …/runs/<rid>/end} by the external agent. */
    CompletionStage<ObjectNode> endExternal(Actor agent, String runId, String status, String error) {
        Run r = ownRun(agent, runId);
        if (!TERMINAL.contains(status)) {
            throw Refusal.invalid("status", "status must be one of " + TERMINAL + "; got '" + status + "'");
        }
        List<Entry> out = new ArrayList<>();
        ObjectNode err = error == null ? null : RunBook.error(status.equals("failed") ? "agent_error" : status, error);
        return finish(r, agent, status, err, null, out);
    }

    /** Flushes the run's last chunk, then writes its final record; completes once durable. */
    CompletionStage<ObjectNode> finish(
            Run r, Actor by, String status, ObjectNode error, ObjectNode usage, List<Entry> out) {
        rollup.flush(r);
        ObjectNode v = r.value(session);
        v.put("status", status);
        v.put("text", r.text.toString());
        v.set("error", error);
        if (usage != null) {
            v.set("usage", usage);
        }
        active.remove(r.id);
        out.add(session.entry("run", r.id, "update", by, v));
        session.ctx().metrics().sessionRunFinished(status, r.builtIn ? "built_in" : "external");
        Actor agent = new Actor(r.agent, Role.AGENT.wire());
        if (!activeFor(r.agent) && !r.agentLost) {
            session.presence.agentStatus(agent, "idle", out);
        }
        tools.runEnded(r, out);
        CompletionStage<Void> written = session.write(out);
        launchReady();
        return written.thenApply(x -> v);
    }

    static ObjectNode error(String code, String message) {
        ObjectNode e = Entry.JSON.createObjectNode();
        e.put("code", code);
        e.put("message", message);
        return e;
    }

    /** An agent's lease lapsed: its runs fail with {@code agent_lost} (rule 7). */
    void agentLost(String agentId, List<Entry> out) {
        for (Run r : List.copyOf(active.values())) {
            if (r.agent.equals(agentId) && !r.builtIn) {
                r.agentLost = true; // its presence says crashed, not idle
                finish(
                        r,
                        Actor.SERVER,
                        "failed",
                        error("agent_lost", "the agent's presence lease lapsed while the run was in progress"),
                        null,
                        out);
                out.clear(); // finish wrote them
            }
        }
    }

    // ---- periodic ----

    /** Approval timeouts (rule 5) and unwatched built-in runs (rule 2's exception). */
    void tick(long now, List<Entry> out) {
        tools.tick(now, out);
        Long cancelAfter = session.policy().cancelAfterMs();
        boolean watched = session.presence.userDevices() > 0;
        for (Run r : List.copyOf(active.values())) {
            if (watched || !r.builtIn) {
                r.watchedAt = now;
            } else if (cancelAfter != null && now - r.watchedAt >= cancelAfter && r.stopAs == null) {
                List<Entry> own = new ArrayList<>(out);
                out.clear();
                own.add(signals.signalEntry(
                        Actor.SERVER, signals.signal("cancel", r.id, null, null, "applied", "unwatched")));
                signals.stop(r, Actor.SERVER, own);
            }
        }
    }

    /** The active runs with their text so far, for the session view. */
    ArrayNode activeViews() {
        ArrayNode a = Entry.JSON.createArrayNode();
        for (Run r : active.values()) {
            ObjectNode v = r.value(session);
            if (v != null) {
                v.put("text", r.text.toString() + r.buffer);
                a.add(v);
            }
        }
        return a;
    }

    /** Session deleted: stop model turns without writing. */
    void abandon() {
        for (Run r : active.values()) {
            if (r.turn != null) {
                r.stopAs = "cancelled";
                r.turn.cancel();
            }
        }
        active.clear();
    }

    /**
     * The node is stopping: every active run ends {@code failed} ({@code server_shutdown}, text so
     * far kept) and its model turn is cancelled. The writes are queued before the store closes,
     * which commits them.
     */
    void shutdown() {
        for (Run r : List.copyOf(active.values())) {
            r.launching = true; // nothing starts any more
        }
        for (Run r : List.copyOf(active.values())) {
            if (r.turn != null) {
                r.stopAs = "cancelled";
                r.turn.cancel();
            }
            r.incoming.clear();
            finish(
                    r,
                    Actor.SERVER,
                    "failed",
                    error("server_shutdown", "the server stopped while this run was in progress"),
                    null,
                    new ArrayList<>());
        }
    }

    /** Adds a queued built-in run (a steer's successor); {@link #launchReady} starts it. */
    void queue(Run r) {
        active.put(r.id, r);
    }

    /** Ends every restored run as failed: its agent or model turn did not survive the restart. */
    void failRestored(String why) {
        active.values().forEach(r -> r.launching = true); // none may start while the others are ended
        for (Run r : List.copyOf(active.values())) {
            finish(
                    r,
                    Actor.SERVER,
                    "failed",
                    error(
                            why,
                            why.equals("server_restart")
                                    ? "the server restarted while this run was in progress"
                                    : "the session was reloaded from its log after a failed write"),
                    null,
                    new ArrayList<>());
        }
    }

    /** Restores an active run at load (then failed by the service: nothing runs across a restart). */
    void restore(String runId, ObjectNode v) {
        Run r = new Run(
                runId,
                v.path("agent").asText(),
                session.hasBuiltInAgent()
                        && Actor.BUILT_IN_AGENT.id().equals(v.path("agent").asText()),
                v.path("trigger").asText(null),
                now());
        for (ObjectNode c : session.state().all("chunk")) {
            if (runId.equals(c.path("run_id").asText())) {
                r.text.append(c.path("delta").asText());
                r.nextSeq = Math.max(r.nextSeq, c.path("seq").asInt() + 1);
            }
        }
        active.put(runId, r);
    }
}
