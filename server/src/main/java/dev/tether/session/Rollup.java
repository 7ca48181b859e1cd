package dev.tether.session;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * A run's text as chunks (SESSIONS.md rule 8): deltas are merged over {@code rollup_ms} and
 * written as one {@code chunk} entry, so what live readers receive is exactly what is stored and
 * a replay equals the live view. An external agent's delta is answered once the chunk holding it
 * is durable; a built-in turn's deltas arrive on the model's thread and are moved in on the
 * session's timer thread.
 *
 * <p>Confined to the session's lock, except what {@link Run#incoming} receives.
 */
final class Rollup {
    private final Session session;
    private final RunBook runs;

    Rollup(Session session, RunBook runs) {
        this.session = session;
        this.runs = runs;
    }

    /** External deltas; the stage completes once the chunk holding the last of them is durable. */
    CompletionStage<Void> chunks(Actor agent, String runId, List<String> deltas) {
        Run r = runs.ownRun(agent, runId);
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
}
