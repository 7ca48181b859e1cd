package dev.tether.session;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import dev.tether.responses.ParamsParser;
import dev.tether.responses.ResponseListener;
import dev.tether.responses.ResponseRecord;
import dev.tether.responses.ResponseRun;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * The built-in agent's model turns: each is a Responses API response chained by {@code
 * previous_response_id} to the session's last one, so the embedded engine keeps the session's KV
 * cache pinned and an upstream sees a pure append. Its text deltas become the run's chunks; its
 * function calls become tool calls; a cancel or steer stops it.
 *
 * <p>Confined to the session's lock, except the listener, which only queues deltas.
 */
final class BuiltInTurns {
    private final Session session;
    private final RunBook runs;

    BuiltInTurns(Session session, RunBook runs) {
        this.session = session;
        this.runs = runs;
    }

    /** The responses owner of a session's turns: nobody else can read or continue them. */
    String owner() {
        return "session:" + session.id();
    }

    /** Starts a turn for {@code r} with what the agent has not heard yet, plus {@code toolOutputs}. */
    void launch(Run r, String previous) {
        r.launching = true;
        Map<String, ObjectNode> taken = session.context.take(r.trigger);
        ArrayNode input = Entry.JSON.createArrayNode();
        taken.values().forEach(input::add);
        ObjectNode body = session.agent().deepCopy();
        body.remove("require_approval");
        body.set("input", input);
        String parent = previous != null ? previous : session.context.lastResponseId();
        if (parent != null) {
            body.put("previous_response_id", parent);
        }
        body.put("store", true);
        body.put("stream", true);
        CompletionStage<ResponseRun> started;
        try {
            started = session.ctx().responses().create(ParamsParser.parse(body), null, owner());
        } catch (RuntimeException e) {
            started = java.util.concurrent.CompletableFuture.failedFuture(e);
        }
        started.whenCompleteAsync(
                (turn, failure) -> {
                    synchronized (session) {
                        started(r, turn, failure, taken);
                    }
                },
                session.ctx().timers());
    }

    private void started(Run r, ResponseRun turn, Throwable failure, Map<String, ObjectNode> taken) {
        r.launching = false;
        if (session.ended()) {
            if (turn != null) {
                turn.cancel();
            }
            return;
        }
        List<Entry> out = new ArrayList<>();
        if (runs.active(r.id) != r || r.stopAs != null) {
            // cancelled or steered while it was being started: it never runs
            if (turn != null) {
                turn.cancel();
            }
            if (runs.active(r.id) == r) {
                if ("steered".equals(r.stopAs)) {
                    steered(r, Actor.BUILT_IN_AGENT);
                } else {
                    runs.finish(r, Actor.BUILT_IN_AGENT, "cancelled", null, null, out);
                }
            }
            return;
        }
        if (failure != null) {
            Throwable cause = failure instanceof java.util.concurrent.CompletionException c ? c.getCause() : failure;
            String message = cause instanceof Refusal ? cause.getMessage() : "the model turn could not start";
            runs.finish(r, Actor.BUILT_IN_AGENT, "failed", RunBook.error("model_error", message), null, out);
            return;
        }
        r.turn = turn;
        ObjectNode v = r.value(session);
        v.put("status", "running");
        v.put("response_id", turn.id());
        v.set("context", AgentContext.keys(taken));
        out.add(session.entry("run", r.id, "update", Actor.BUILT_IN_AGENT, v));
        session.presence.agentStatus(Actor.BUILT_IN_AGENT, "thinking", out);
        session.write(out);
        turn.subscribe(-1, new Deltas(r));
        turn.done()
                .whenCompleteAsync(
                        (record, e) -> {
                            synchronized (session) {
                                ended(r, turn, record, e);
                            }
                        },
                        session.ctx().timers());
    }

    /** Text deltas go to the run's queue; the timer thread moves them into chunks. */
    private final class Deltas implements ResponseListener {
        private final Run r;

        Deltas(Run r) {
            this.r = r;
        }

        @Override
        public void onEvent(int sequence, String type, byte[] json) {
            if (!type.equals("response.output_text.delta")) {
                return;
            }
            try {
                JsonNode event = Entry.JSON.readTree(json);
                r.incoming.add(event.path("delta").asText());
            } catch (IOException e) {
                return; // our own serializer wrote it
            }
            if (r.drainScheduled.compareAndSet(false, true)) {
                session.ctx().timers().execute(() -> {
                    synchronized (session) {
                        runs.rollup.drainIncoming(r);
                    }
                });
            }
        }

        @Override
        public void onEnd() {}
    }

    private void ended(Run r, ResponseRun turn, ResponseRecord record, Throwable failure) {
        runs.rollup.drainIncoming(r);
        r.turn = null;
        if (session.ended()) {
            return;
        }
        List<Entry> out = new ArrayList<>();
        if ("steered".equals(r.stopAs)) {
            steered(r, Actor.BUILT_IN_AGENT);
            return;
        }
        if ("cancelled".equals(r.stopAs)) {
            runs.finish(r, Actor.BUILT_IN_AGENT, "cancelled", null, usage(record), out);
            return;
        }
        if (failure != null || record == null) {
            runs.finish(
                    r,
                    Actor.BUILT_IN_AGENT,
                    "failed",
                    RunBook.error("server_error", "the model turn failed"),
                    null,
                    out);
            return;
        }
        switch (record.status()) {
            case COMPLETED -> {
                List<ObjectNode> calls = new ArrayList<>();
                for (ObjectNode item : record.output()) {
                    if (item.path("type").asText().equals("function_call")) {
                        calls.add(item);
                    }
                }
                if (calls.isEmpty()) {
                    runs.finish(r, Actor.BUILT_IN_AGENT, "completed", null, usage(record), out);
                } else {
                    runs.tools.fromModel(r, record.id(), calls, out);
                }
            }
            case INCOMPLETE -> {
                runs.finish(
                        r,
                        Actor.BUILT_IN_AGENT,
                        "incomplete",
                        RunBook.error(String.valueOf(record.incomplete()), "the model stopped early"),
                        usage(record),
                        out);
            }
            case CANCELLED -> runs.finish(r, Actor.BUILT_IN_AGENT, "cancelled", null, usage(record), out);
            case FAILED, QUEUED, IN_PROGRESS ->
                runs.finish(r, Actor.BUILT_IN_AGENT, "failed", record.error(), usage(record), out);
        }
    }

    private static ObjectNode usage(ResponseRecord record) {
        return record == null ? null : record.usage();
    }

    /**
     * Rule 4: the steered run ends {@code incomplete} (reason {@code steered}); a successor with
     * the same trigger starts at once, its context holding the steer input.
     */
    void steered(Run r, Actor by) {
        List<Entry> out = new ArrayList<>();
        String successor = SessionIds.of("run_");
        ObjectNode next = RunBook.newRun(successor, r.trigger, "queued", Actor.BUILT_IN_AGENT.id());
        next.put("steered_from", r.id);
        ObjectNode reason = RunBook.error("steered", "steered into run " + successor);
        runs.queue(new Run(
                successor,
                Actor.BUILT_IN_AGENT.id(),
                true,
                r.trigger,
                session.ctx().clock().millis()));
        out.add(session.entry("run", successor, "insert", by, next));
        runs.finish(r, by, "incomplete", reason, null, out);
    }
}
