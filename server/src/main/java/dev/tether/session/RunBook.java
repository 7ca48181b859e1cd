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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

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

    private final Session session;
    private final Map<String, Run> active = new LinkedHashMap<>();
    final ToolCalls tools;
    final BuiltInTurns turns;

    RunBook(Session session) {
        this.session = session;
        this.tools = new ToolCalls(session, this);
        this.turns = new BuiltInTurns(session, this);
    }

    private long now() {
        return session.ctx().clock().millis();
    }

    Run active(String runId) {
        return active.get(runId);
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
            ObjectNode sig = signal(
                    "message",
                    null,
                    messageKey,
                    null,
                    "rejected",
                    "a run is active and the session's multitask policy is reject");
            out.add(signalEntry(author, sig));
            session.write(out);
            throw Refusal.of(
                    Condition.CONFLICT,
                    "run_active",
                    "a run is active in session " + session.id() + " and its multitask policy is reject;"
                            + " wait for it to end or cancel it");
        }
        if (anyActive && policy == Multitask.INTERRUPT) {
            cancelAll(author, "interrupted", out);
        }
        if (!session.hasBuiltInAgent()) {
            return null; // the external agent sees the message and decides
        }
        out.add(message);
        String runId = SessionIds.of("run_");
        ObjectNode v = Entry.JSON.createObjectNode();
        v.put("id", runId);
        v.put("trigger", messageKey);
        v.put("status", "queued");
        v.put("agent", Actor.BUILT_IN_AGENT.id());
        v.putNull("response_id");
        v.put("text", "");
        v.putNull("error");
        v.putNull("usage");
        out.add(session.entry("run", runId, "insert", author, v));
        active.put(runId, new Run(runId, Actor.BUILT_IN_AGENT.id(), true, messageKey, now()));
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
            turns.launch(r, null, null);
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
        if (trigger != null && session.state().get("message", trigger) == null) {
            throw Refusal.invalid("trigger", "no message " + trigger + " in session " + session.id());
        }
        List<Entry> out = new ArrayList<>();
        String runId = SessionIds.of("run_");
        ObjectNode v = Entry.JSON.createObjectNode();
        v.put("id", runId);
        if (trigger == null) {
            v.putNull("trigger");
        } else {
            v.put("trigger", trigger);
        }
        v.put("status", "running");
        v.put("agent", agent.id());
        v.putNull("response_id");
        v.put("text", "");
        v.putNull("error");
        v.putNull("usage");
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

    // ---- chunks and rollup ----

    /** External deltas; the stage completes once the chunk holding the last of them is durable. */
    CompletionStage<Void> chunks(Actor agent, String runId, List<String> deltas) {
        Run r = ownRun(agent, runId);
        List<Entry> out = new ArrayList<>();
        session.presence.touch(agent, out);
        if (!out.isEmpty()) {
            session.write(out);
        }
        CompletableFuture<Void> ack = new CompletableFuture<>();
        deltas.forEach(r.buffer::append);
        r.acks.add(ack);
        scheduleFlush(r);
        return ack;
    }

    /** Moves a built-in turn's deltas into the buffer (on the timer thread, under the lock). */
    void drainIncoming(Run r) {
        r.drainScheduled.set(false);
        boolean first = r.text.isEmpty() && r.buffer.isEmpty();
        boolean any = false;
        for (String d; (d = r.incoming.poll()) != null; ) {
            r.buffer.append(d);
            any = true;
        }
        if (any && first) {
            List<Entry> out = new ArrayList<>();
            session.presence.agentStatus(Actor.BUILT_IN_AGENT, "streaming", out);
            session.write(out);
        }
        if (any) {
            scheduleFlush(r);
        }
    }

    private void scheduleFlush(Run r) {
        long rollup = session.policy().rollupMs();
        if (rollup == 0) {
            flush(r);
        } else if (!r.flushScheduled) {
            r.flushScheduled = true;
            session.ctx()
                    .timers()
                    .schedule(
                            () -> {
                                synchronized (session) {
                                    r.flushScheduled = false;
                                    flush(r);
                                }
                            },
                            rollup,
                            TimeUnit.MILLISECONDS);
        }
    }

    /** Writes what the buffer holds as the run's next chunk. */
    void flush(Run r) {
        List<CompletableFuture<Void>> acks = List.copyOf(r.acks);
        r.acks.clear();
        if (r.buffer.isEmpty()) {
            acks.forEach(a -> a.complete(null));
            return;
        }
        String delta = r.buffer.toString();
        r.buffer.setLength(0);
        int seq = r.nextSeq++;
        r.text.append(delta);
        ObjectNode c = Entry.JSON.createObjectNode();
        c.put("id", r.id + ":" + seq);
        c.put("run_id", r.id);
        c.put("seq", seq);
        c.put("delta", delta);
        Actor by = new Actor(r.agent, Role.AGENT.wire());
        session.write(session.entry("chunk", r.id + ":" + seq, "insert", by, c)).whenComplete((ok, e) -> {
            for (CompletableFuture<Void> a : acks) {
                if (e == null) {
                    a.complete(null);
                } else {
                    a.completeExceptionally(e);
                }
            }
        });
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
        flush(r);
        ObjectNode v = r.value(session);
        v.put("status", status);
        v.put("text", r.text.toString());
        v.set("error", error);
        if (usage != null) {
            v.set("usage", usage);
        }
        active.remove(r.id);
        out.add(session.entry("run", r.id, "update", by, v));
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

    // ---- signals ----

    ObjectNode signal(String kind, String runId, String target, String input, String outcome, String reason) {
        ObjectNode s = Entry.JSON.createObjectNode();
        s.put("id", SessionIds.of("sig_"));
        s.put("kind", kind);
        s.put("run_id", runId);
        s.put("target", target);
        s.put("input", input);
        s.put("outcome", outcome);
        s.put("reason", reason);
        return s;
    }

    /** A signal entry keyed by its value's id. */
    Entry signalEntry(Actor actor, ObjectNode signal) {
        return session.entry("signal", signal.path("id").asText(), "insert", actor, signal);
    }

    /** A signal that could not apply: recorded, then refused with 409. */
    Refusal rejected(
            Actor actor, String kind, String runId, String target, String input, String reason, List<Entry> out) {
        out.add(signalEntry(actor, signal(kind, runId, target, input, "rejected", reason)));
        session.write(out);
        return Refusal.of(Condition.CONFLICT, "signal_rejected", reason);
    }

    /** Rule 2: only this stops a run (or the on_unwatched policy). */
    CompletionStage<ObjectNode> cancel(Actor actor, String runId, String reason) {
        List<Entry> out = new ArrayList<>();
        Run r = signalTarget(actor, "cancel", runId, null, out);
        ObjectNode sig = signal("cancel", runId, null, null, "applied", reason);
        out.add(signalEntry(actor, sig));
        stop(r, actor, out);
        return CompletableFuture.completedFuture(sig);
    }

    /** Cancels every active run (floor taken, interrupt); entries join {@code out}. */
    void cancelAll(Actor actor, String reason, List<Entry> out) {
        for (Run r : List.copyOf(active.values())) {
            out.add(signalEntry(actor, signal("cancel", r.id, null, null, "applied", reason)));
            stop(r, actor, out);
            out.clear();
        }
    }

    /** Ends a run as cancelled: a queued or external one now, a built-in turn when it stops. */
    private void stop(Run r, Actor actor, List<Entry> out) {
        r.stopAs = "cancelled";
        if (r.turn != null) {
            session.write(out);
            r.turn.cancel(); // the turn's end writes the record
        } else {
            finish(r, actor, "cancelled", null, null, out);
        }
    }

    /** Rule 4: a built-in run ends {@code incomplete} (steered) and a successor continues with the input. */
    CompletionStage<ObjectNode> steer(Actor actor, String runId, String input) {
        List<Entry> out = new ArrayList<>();
        Run r = signalTarget(actor, "steer", runId, input, out);
        ObjectNode sig = signal("steer", runId, null, input, "applied", null);
        out.add(signalEntry(actor, sig));
        if (r.builtIn) {
            r.stopAs = "steered";
            r.steerInput = input;
            session.write(out);
            if (r.turn != null) {
                r.turn.cancel();
            } else if (!r.launching) {
                turns.steered(r, actor);
            }
        } else {
            session.write(out); // the external agent sees the signal and steers itself
        }
        return CompletableFuture.completedFuture(sig);
    }

    private Run signalTarget(Actor actor, String kind, String runId, String input, List<Entry> out) {
        Run r = active.get(runId);
        if (r == null) {
            if (session.state().get("run", runId) == null) {
                throw Refusal.notFound("run", "no run " + runId + " in session " + session.id());
            }
            throw rejected(actor, kind, runId, null, input, "run " + runId + " is not active", out);
        }
        if (r.stopAs != null) {
            throw rejected(actor, kind, runId, null, input, "run " + runId + " is already stopping", out);
        }
        return r;
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
                own.add(signalEntry(Actor.SERVER, signal("cancel", r.id, null, null, "applied", "unwatched")));
                stop(r, Actor.SERVER, own);
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

    /** Adds a queued built-in run (a steer's successor); {@link #launchReady} starts it. */
    void queue(Run r) {
        active.put(r.id, r);
    }

    /** Ends every restored run as failed: its agent or model turn did not survive the restart. */
    void failRestored() {
        active.values().forEach(r -> r.launching = true); // none may start while the others are ended
        for (Run r : List.copyOf(active.values())) {
            finish(
                    r,
                    Actor.SERVER,
                    "failed",
                    error("server_restart", "the server restarted while this run was in progress"),
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
