package dev.tether.session;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.responses.ResponseRun;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A run in progress (queued, running or waiting for approval): its rollup buffer and, for the
 * built-in agent, the model turn behind it. The durable record is the {@code run} entity in the
 * log; this holds what only a live run needs.
 *
 * <p>Confined to the session's lock, except {@link #incoming} and {@link #drainScheduled}, which
 * the model's thread fills.
 */
final class Run {
    final String id;
    final String agent;
    final boolean builtIn;
    final String trigger;
    /** The text so far: the concatenation of the chunks written. */
    final StringBuilder text = new StringBuilder();
    /** Deltas merged for the next chunk (rollup), and who waits for them to be durable. */
    final StringBuilder buffer = new StringBuilder();

    final List<CompletableFuture<Void>> acks = new ArrayList<>();
    int nextSeq;
    boolean flushScheduled;
    /** Deltas from the model's thread, moved into {@link #buffer} under the session's lock. */
    final ConcurrentLinkedQueue<String> incoming = new ConcurrentLinkedQueue<>();

    final AtomicBoolean drainScheduled = new AtomicBoolean();
    /** The built-in agent's current model turn, or null (queued, waiting for tools, external). */
    ResponseRun turn;
    /** Set while a built-in turn is being started, so it is started once. */
    boolean launching;
    /** Why the run must end when its turn stops: {@code cancelled} or {@code steered}; null while it may go on. */
    String stopAs;

    /** The agent's lease lapsed: the run fails and the agent shows crashed. */
    boolean agentLost;
    /** When the run last had a user device watching (on_unwatched). */
    long watchedAt;

    Run(String id, String agent, boolean builtIn, String trigger, long now) {
        this.id = id;
        this.agent = agent;
        this.builtIn = builtIn;
        this.trigger = trigger;
        this.watchedAt = now;
    }

    /** The run entity as now stored, copied for the next version. */
    ObjectNode value(Session s) {
        return s.copy("run", id);
    }

    String status(Session s) {
        ObjectNode v = s.state().get("run", id);
        return v == null ? "queued" : v.path("status").asText();
    }
}
