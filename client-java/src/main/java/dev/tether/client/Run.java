package dev.tether.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One answer an agent is writing. {@link #write} buffers text; the buffer goes to the server every
 * {@link #BATCH_MILLIS} as one batch of deltas (the server merges them further over the session's
 * rollup window). A {@code cancel} signal, or the server ending the run (the floor taken, the lease
 * lost), makes {@link #active()} false and later writes no-ops; a {@code steer} signal calls the
 * steer listeners with its input (ending the run and starting a successor is the agent's call).
 *
 * <p>Thread-safe.
 */
public final class Run implements AutoCloseable {
    static final long BATCH_MILLIS = 25;

    private final AgentSession session;
    private final String id;
    private final StringBuilder buffer = new StringBuilder();
    private final List<Runnable> cancelListeners = new CopyOnWriteArrayList<>();
    private final List<Consumer<String>> steerListeners = new CopyOnWriteArrayList<>();
    private final Map<String, CompletableFuture<Boolean>> decisions = new ConcurrentHashMap<>();
    private final ScheduledFuture<?> flusher;
    private CompletableFuture<JsonNode> lastSend = CompletableFuture.completedFuture(null);
    private volatile String status = "running";

    Run(AgentSession session, String id) {
        this.session = session;
        this.id = id;
        this.flusher =
                session.timers().scheduleWithFixedDelay(this::flush, BATCH_MILLIS, BATCH_MILLIS, TimeUnit.MILLISECONDS);
    }

    public String id() {
        return id;
    }

    /** Whether the run is still running (not ended by this agent, a cancel, or the server). */
    public boolean active() {
        return status.equals("running") || status.equals("waiting_approval");
    }

    public String status() {
        return status;
    }

    /** Adds text to the answer (sent within {@link #BATCH_MILLIS}); ignored once the run is not active. */
    public void write(String delta) {
        if (!active()) {
            return;
        }
        synchronized (buffer) {
            buffer.append(delta);
        }
    }

    /** Runs {@code listener} when the run is cancelled (by a participant's signal or by the server). */
    public void onCancel(Runnable listener) {
        cancelListeners.add(listener);
    }

    /** Calls {@code listener} with a steer signal's input. */
    public void onSteer(Consumer<String> listener) {
        steerListeners.add(listener);
    }

    /** Sends what is buffered as one batch of deltas. */
    public void flush() {
        String text;
        synchronized (buffer) {
            if (buffer.length() == 0 || !active()) {
                return;
            }
            text = buffer.toString();
            buffer.setLength(0);
        }
        ObjectNode frame = frame("chunks");
        ArrayNode deltas = frame.putArray("deltas");
        deltas.add(text);
        synchronized (this) {
            lastSend = session.send(frame);
        }
    }

    private ObjectNode frame(String action) {
        return TetherClient.JSON
                .createObjectNode()
                .put("type", "run")
                .put("action", action)
                .put("run_id", id);
    }

    /**
     * Asks for approval of a call to tool {@code name} with {@code argumentsJson}; the future
     * completes with true (approved) or false (denied, or timed out on the server).
     */
    public ToolCall requestApproval(String name, String argumentsJson) {
        return toolCall(name, argumentsJson, true);
    }

    /** Records a tool call that needs no approval. */
    public ToolCall toolCall(String name, String argumentsJson, boolean approval) {
        flush();
        ObjectNode frame = frame("tool_call").put("name", name).put("arguments", argumentsJson);
        frame.put("approval", approval ? "required" : "none");
        CompletableFuture<Boolean> decision = new CompletableFuture<>();
        JsonNode call = AgentSession.await(session.send(frame));
        String callId = call.path("id").asText();
        decisions.put(callId, decision);
        toolCall(callId, call.path("status").asText(), call); // it may already be decided
        if (!approval) {
            decision.complete(true);
        }
        return new ToolCall(callId, decision);
    }

    /** A tool call of this run and the decision on it. */
    public record ToolCall(String id, CompletableFuture<Boolean> decision) {}

    /** Posts the result of a tool call. */
    public void toolOutput(String callId, String output) {
        ObjectNode frame = TetherClient.JSON
                .createObjectNode()
                .put("type", "tool_output")
                .put("call_id", callId)
                .put("output", output);
        AgentSession.await(session.send(frame));
    }

    /** Ends the run {@code completed}, after what is buffered. */
    public void complete() {
        end("completed", null);
    }

    /** Ends the run {@code failed} with {@code error}. */
    public void fail(String error) {
        end("failed", error);
    }

    private void end(String endStatus, String error) {
        flush();
        flusher.cancel(false);
        if (!active()) {
            session.forget(this);
            return;
        }
        ObjectNode frame = frame("end").put("status", endStatus);
        if (error != null) {
            frame.put("error", error);
        }
        try {
            AgentSession.await(session.send(frame));
            status = endStatus;
        } catch (TetherException e) {
            if (!e.code().equals("run_ended")) {
                throw e;
            }
        } finally {
            session.forget(this);
        }
    }

    /** Completes the run unless it already ended. */
    @Override
    public void close() {
        if (active()) {
            complete();
        }
    }

    // ---- from the session's log ----

    void status(String s) {
        String before = status;
        status = s;
        if (s.equals("cancelled") && !before.equals("cancelled")) {
            cancelListeners.forEach(Runnable::run);
        }
        if (!active()) {
            flusher.cancel(false);
        }
    }

    void signal(String kind, String input) {
        if (kind.equals("steer")) {
            steerListeners.forEach(l -> l.accept(input));
        }
    }

    void toolCall(String callId, String callStatus, JsonNode value) {
        CompletableFuture<Boolean> d = decisions.get(callId);
        if (d == null) {
            return;
        }
        if (callStatus.equals("approved")) {
            d.complete(true);
        } else if (callStatus.equals("denied")) {
            d.complete(false);
        }
    }
}
