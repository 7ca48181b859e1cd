package dev.tether.session;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Signals on runs (SESSIONS.md rules 2 and 4): cancel, the only thing that stops a run, and
 * steer; each is a {@code signal} entry, {@code applied} or {@code rejected} with the reason (a
 * rejected one is also a 409 to its sender). Approve and deny are {@link ToolCalls}'.
 *
 * <p>Confined to the session's lock.
 */
final class Signals {
    private final Session session;
    private final RunBook runs;

    Signals(Session session, RunBook runs) {
        this.session = session;
        this.runs = runs;
    }

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
        session.ctx()
                .metrics()
                .sessionSignal(
                        signal.path("kind").asText(), signal.path("outcome").asText());
        return session.entry("signal", signal.path("id").asText(), "insert", actor, signal);
    }

    /** A signal that could not apply: recorded, then refused with 409. */
    RecordedRefusal rejected(
            Actor actor, String kind, String runId, String target, String input, String reason, List<Entry> out) {
        out.add(signalEntry(actor, signal(kind, runId, target, input, "rejected", reason)));
        return new RecordedRefusal(Refusal.of(Condition.CONFLICT, "signal_rejected", reason), session.write(out));
    }

    /** Rule 2: only this stops a run (or the on_unwatched policy). */
    CompletionStage<ObjectNode> cancel(Actor actor, String runId, String reason) {
        List<Entry> out = new ArrayList<>();
        Run r = signalTarget(actor, "cancel", runId, null, out);
        ObjectNode sig = signal("cancel", runId, null, null, "applied", reason);
        out.add(signalEntry(actor, sig));
        return stop(r, actor, out).thenApply(x -> sig);
    }

    /** Cancels every active run (floor taken, interrupt); entries join {@code out}. */
    void cancelAll(Actor actor, String reason, List<Entry> out) {
        for (Run r : runs.activeRuns()) {
            out.add(signalEntry(actor, signal("cancel", r.id, null, null, "applied", reason)));
            stop(r, actor, out);
            out.clear();
        }
    }

    /**
     * Ends a run as cancelled: a queued or external one now, a built-in turn when it stops (one
     * being started is stopped as soon as it has started). Completes once {@code out} is durable.
     */
    CompletionStage<Void> stop(Run r, Actor actor, List<Entry> out) {
        r.stopAs = "cancelled";
        if (r.turn != null || r.launching) {
            CompletionStage<Void> written = session.write(out);
            if (r.turn != null) {
                r.turn.cancel(); // the turn's end writes the record
            }
            return written;
        }
        return runs.finish(r, actor, "cancelled", null, null, out).thenApply(x -> null);
    }

    /** Rule 4: a built-in run ends {@code incomplete} (steered) and a successor continues with the input. */
    CompletionStage<ObjectNode> steer(Actor actor, String runId, String input) {
        List<Entry> out = new ArrayList<>();
        Run r = signalTarget(actor, "steer", runId, input, out);
        ObjectNode sig = signal("steer", runId, null, input, "applied", null);
        out.add(signalEntry(actor, sig));
        CompletionStage<Void> written = session.write(out);
        if (r.builtIn) {
            r.stopAs = "steered";
            if (r.turn != null) {
                r.turn.cancel();
            } else if (!r.launching) {
                runs.turns.steered(r, actor);
            }
        } // an external agent sees the signal and steers itself
        return written.thenApply(x -> sig);
    }

    private Run signalTarget(Actor actor, String kind, String runId, String input, List<Entry> out) {
        Run r = runs.active(runId);
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
}
