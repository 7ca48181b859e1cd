package dev.tether.session;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Tool calls and their approval (SESSIONS.md rule 5): a call that needs approval waits ({@code
 * approval_required}, its run {@code waiting_approval}); the first {@code approve} or {@code deny}
 * wins and later ones are recorded as rejected signals; after {@code approval_timeout_ms} the
 * server denies it. An approved or unguarded call waits for its {@code output}; once every call
 * of a built-in run is settled, the agent continues with the outputs.
 *
 * <p>Confined to the session's lock.
 */
final class ToolCalls {
    private final Session session;
    private final RunBook runs;
    /** Approval deadlines by call id. */
    private final Map<String, Long> deadlines = new HashMap<>();
    /** The response each built-in call came from, so the continuation chains to it. */
    private final Map<String, String> responseOf = new HashMap<>();

    ToolCalls(Session session, RunBook runs) {
        this.session = session;
        this.runs = runs;
    }

    /** {@code POST …/runs/<rid>/tool_calls} by an external agent. */
    CompletionStage<ObjectNode> request(Actor agent, String runId, JsonNode body) {
        Run r = runs.ownRun(agent, runId);
        String id = Fields.string(body, "id", false);
        String key = id != null ? SessionIds.client("id", id) : SessionIds.of("call_");
        if (session.state().get("tool_call", key) != null) {
            return CompletableFuture.completedFuture(session.state().get("tool_call", key));
        }
        String name = Fields.string(body, "name", true);
        JsonNode args = body.get("arguments");
        String arguments = args == null || args.isNull() ? "{}" : args.isTextual() ? args.asText() : args.toString();
        String approval = Fields.string(body, "approval", false);
        if (approval != null && !approval.equals("required") && !approval.equals("none")) {
            throw Refusal.invalid("approval", "approval must be required or none");
        }
        List<Entry> out = new ArrayList<>();
        session.presence.touch(agent, out);
        add(r, agent, key, name, arguments, "required".equals(approval), out);
        CompletionStage<Void> written = session.write(out);
        ObjectNode call = session.state().get("tool_call", key);
        return written.thenApply(x -> call);
    }

    /** The function calls a built-in turn ended with. */
    void fromModel(Run r, String responseId, List<ObjectNode> calls, List<Entry> out) {
        Set<String> guarded = new HashSet<>();
        session.agent().path("require_approval").forEach(n -> guarded.add(n.asText()));
        for (ObjectNode call : calls) {
            String key = call.path("call_id").asText();
            responseOf.put(key, responseId);
            String name = call.path("name").asText();
            add(r, Actor.BUILT_IN_AGENT, key, name, call.path("arguments").asText(), guarded.contains(name), out);
        }
        session.presence.agentStatus(Actor.BUILT_IN_AGENT, "waiting", out);
        session.write(out);
    }

    private void add(Run r, Actor by, String key, String name, String arguments, boolean guarded, List<Entry> out) {
        ObjectNode c = Entry.JSON.createObjectNode();
        c.put("id", key);
        c.put("run_id", r.id);
        c.put("name", name);
        c.put("arguments", arguments);
        c.put("status", guarded ? "approval_required" : "pending");
        c.putNull("output");
        out.add(session.entry("tool_call", key, "insert", by, c));
        if (guarded) {
            deadlines.put(key, session.ctx().clock().millis() + session.policy().approvalTimeoutMs());
            runStatus(r, "waiting_approval", by, out);
        }
    }

    private void runStatus(Run r, String status, Actor by, List<Entry> out) {
        ObjectNode v = r.value(session);
        for (Entry e : out) {
            if (e.type().equals("run") && e.key().equals(r.id)) {
                v = e.value().deepCopy();
            }
        }
        if (v == null || v.path("status").asText().equals(status)) {
            return;
        }
        v.put("status", status);
        out.add(session.entry("run", r.id, "update", by, v));
    }

    /** {@code approve} or {@code deny}: the first decision wins; a later one is a rejected signal (409). */
    CompletionStage<ObjectNode> decide(Actor actor, String callId, boolean approve, String reason) {
        String kind = approve ? "approve" : "deny";
        ObjectNode c = session.copy("tool_call", callId);
        if (c == null) {
            throw Refusal.notFound("tool_call", "no tool call " + callId + " in session " + session.id());
        }
        List<Entry> out = new ArrayList<>();
        String runId = c.path("run_id").asText();
        if (!c.path("status").asText().equals("approval_required")) {
            throw runs.signals.rejected(
                    actor,
                    kind,
                    runId,
                    callId,
                    null,
                    "tool call " + callId + " is not awaiting approval" + " (it is "
                            + c.path("status").asText() + ")",
                    out);
        }
        ObjectNode sig = runs.signals.signal(kind, runId, callId, null, "applied", reason);
        out.add(runs.signals.signalEntry(actor, sig));
        settle(c, callId, approve ? "approved" : "denied", approve ? null : denial(actor, reason), actor, out);
        CompletionStage<Void> written = session.write(out);
        continueIfSettled(runId);
        return written.thenApply(x -> sig);
    }

    private static String denial(Actor actor, String reason) {
        return "denied by " + actor.id() + (reason == null ? "" : ": " + reason);
    }

    private void settle(ObjectNode c, String callId, String status, String output, Actor by, List<Entry> out) {
        deadlines.remove(callId);
        c.put("status", status);
        if (output != null) {
            c.put("output", output);
        }
        out.add(session.entry("tool_call", callId, "update", by, c));
        Run r = runs.active(c.path("run_id").asText());
        if (r != null && !waitingApproval(r.id, callId)) {
            runStatus(r, "running", by, out);
        }
    }

    private boolean waitingApproval(String runId, String except) {
        for (var e : deadlines.keySet()) {
            ObjectNode c = session.state().get("tool_call", e);
            if (!e.equals(except) && c != null && c.path("run_id").asText().equals(runId)) {
                return true;
            }
        }
        return false;
    }

    /** {@code POST …/tool_calls/<cid>/output}: the result of an approved or unguarded call. */
    CompletionStage<ObjectNode> output(Actor actor, String callId, String output) {
        ObjectNode c = session.copy("tool_call", callId);
        if (c == null) {
            throw Refusal.notFound("tool_call", "no tool call " + callId + " in session " + session.id());
        }
        String status = c.path("status").asText();
        if (!status.equals("pending") && !status.equals("approved")) {
            throw Refusal.of(
                    Condition.CONFLICT,
                    "tool_call_" + status,
                    "tool call " + callId + " is " + status + "; only a pending or approved call takes an output");
        }
        List<Entry> out = new ArrayList<>();
        c.put("status", "completed");
        c.put("output", output);
        out.add(session.entry("tool_call", callId, "update", actor, c));
        CompletionStage<Void> written = session.write(out);
        continueIfSettled(c.path("run_id").asText());
        return written.thenApply(x -> c);
    }

    /** A built-in run whose calls are all completed or denied continues with their outputs. */
    private void continueIfSettled(String runId) {
        Run r = runs.active(runId);
        if (r == null || !r.builtIn || r.turn != null || r.launching) {
            return;
        }
        String previous = null;
        boolean any = false;
        for (var e : session.state().entities("tool_call").entrySet()) {
            ObjectNode c = e.getValue();
            if (!runId.equals(c.path("run_id").asText()) || !responseOf.containsKey(e.getKey())) {
                continue; // another run's, or already answered in an earlier turn
            }
            String status = c.path("status").asText();
            if (!status.equals("completed") && !status.equals("denied")) {
                return;
            }
            any |= session.context.pending(e.getKey());
            previous = responseOf.get(e.getKey());
        }
        if (any) {
            forgetCallsOf(runId);
            runs.turns.launch(r, previous);
        }
    }

    private void forgetCallsOf(String runId) {
        responseOf.keySet().removeIf(k -> {
            ObjectNode c = session.state().get("tool_call", k);
            return c == null || c.path("run_id").asText().equals(runId);
        });
    }

    /** Denies calls whose approval timed out. */
    void tick(long now, List<Entry> out) {
        for (var e : List.copyOf(deadlines.entrySet())) {
            if (now >= e.getValue()) {
                ObjectNode c = session.copy("tool_call", e.getKey());
                if (c == null) {
                    deadlines.remove(e.getKey());
                    continue;
                }
                out.add(runs.signals.signalEntry(
                        Actor.SERVER,
                        runs.signals.signal(
                                "deny", c.path("run_id").asText(), e.getKey(), null, "applied", "approval_timeout")));
                settle(c, e.getKey(), "denied", "denied: no decision within the approval timeout", Actor.SERVER, out);
                session.write(out);
                out.clear();
                continueIfSettled(c.path("run_id").asText());
            }
        }
    }

    /**
     * A run ended: its open calls are denied ("the run ended"), so none waits forever, and a
     * built-in agent's next turn answers them (an unanswered call would make every later turn fail).
     */
    void runEnded(Run r, List<Entry> out) {
        for (var e : List.copyOf(session.state().entities("tool_call").entrySet())) {
            ObjectNode c = e.getValue();
            String status = c.path("status").asText();
            if (c.path("run_id").asText().equals(r.id)
                    && (status.equals("pending") || status.equals("approval_required") || status.equals("approved"))) {
                ObjectNode denied = c.deepCopy();
                denied.put("status", "denied");
                denied.put("output", "not run: the run ended before this call was answered");
                out.add(session.entry("tool_call", e.getKey(), "update", Actor.SERVER, denied));
            }
        }
        deadlines.keySet().removeIf(k -> {
            ObjectNode c = session.state().get("tool_call", k);
            return c == null || c.path("run_id").asText().equals(r.id);
        });
        forgetCallsOf(r.id);
    }
}
