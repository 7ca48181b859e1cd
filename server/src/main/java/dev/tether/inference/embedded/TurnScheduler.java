package dev.tether.inference.embedded;

import dev.tether.inference.ModelException;
import dev.tether.inference.ModelResult.Finish;
import dev.tether.inference.embedded.llama.LlamaContext;
import dev.tether.inference.embedded.llama.LlamaModel;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;

/**
 * The engine thread: owns the llama.cpp context and runs every turn's prefill and decoding.
 *
 * <p>Scheduling is continuous batching with fairness across sessions. Waiting turns are
 * admitted first come, first served while the KV budget has room. Each step builds one batch:
 * every decoding turn contributes its next token, and prefilling turns share the rest of the
 * batch equally, starting from a rotating position. So a long prompt never stalls other
 * sessions' streams for more than one batch, and no session's prefill is starved.
 *
 * <p>Turns reach the thread through a bounded {@link EngineInbox}; with nothing to run the
 * thread parks on it until a turn, a cancel or a forget arrives, or the once-a-second
 * maintenance (expiring idle state) is due.
 *
 * <p>Thread-safe entry points: {@link #submit}, {@link #cancel}, {@link #forget},
 * {@link #stats}, {@link #stop}; everything else runs on the engine thread.
 */
final class TurnScheduler {
    private static final System.Logger LOG = System.getLogger(TurnScheduler.class.getName());

    private static final long MAINTENANCE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final LlamaModel model;
    private final LlamaContext ctx;
    private final KvCache cache;
    private final long ephemeralTtlNanos;
    private final EngineInbox inbox;
    private final List<Turn> waiting = new ArrayList<>();
    private final List<Turn> active = new ArrayList<>();
    private final Thread thread;
    private final Lock decodes;
    private volatile boolean closing;
    private volatile EngineStats stats;
    private int rotation;
    private boolean defragmented;
    private long turns;
    private long promptTokens;
    private long cachedTokens;
    private long outputTokens;

    /**
     * @param maxWaiting turns that may wait for admission; more are refused as overloaded
     * @param decodes    held around each model step: the groups of one engine take turns, so each
     *                   step has all the engine's threads instead of fighting over the cores
     */
    TurnScheduler(
            LlamaModel model,
            LlamaContext ctx,
            KvCache cache,
            long ephemeralTtlNanos,
            int maxWaiting,
            Lock decodes,
            String name) {
        this.model = model;
        this.decodes = decodes;
        this.ctx = ctx;
        this.cache = cache;
        this.ephemeralTtlNanos = ephemeralTtlNanos;
        this.inbox = new EngineInbox(maxWaiting);
        publishStats();
        this.thread = Thread.ofPlatform().name(name).daemon().unstarted(this::run);
        inbox.attach(thread);
        thread.start();
    }

    /** Queues a turn; refuses it ({@code OVERLOADED}) when too many already wait. */
    void submit(Turn t) throws ModelException {
        try {
            inbox.submit(t);
        } catch (ModelException e) {
            t.sampler.close(); // it never reached the engine
            throw e;
        }
        // If the engine stopped meanwhile, its final drain either took the turn (and failed it)
        // or missed it: then the turn is still here to take back.
        if (closing && inbox.withdraw(t)) {
            t.sampler.close();
            throw new ModelException(ModelException.Kind.UNAVAILABLE, "the embedded engine is shutting down");
        }
    }

    /** Cancels a turn; the engine lets go of it within one step. */
    void cancel(Turn t) {
        t.cancel();
        inbox.wake();
    }

    /** Drops a session's KV state and spill file (once its running turn, if any, ends). */
    void forget(String key) {
        inbox.forget(key);
    }

    EngineStats stats() {
        return stats;
    }

    /** Turns waiting for admission now. */
    int waitingTurns() {
        return inbox.waiting();
    }

    /** Turns refused since start because too many were waiting. */
    long refusedTurns() {
        return inbox.refused();
    }

    private void run() {
        long maintenanceDue = System.nanoTime();
        try {
            while (!closing) {
                try {
                    inbox.drain(waiting, this::forgetNow);
                    if (System.nanoTime() - maintenanceDue >= 0) {
                        maintain();
                        maintenanceDue = System.nanoTime() + MAINTENANCE_NANOS;
                    }
                    dropCancelled();
                    admit();
                    // With nothing active, waiting turns (if any) wait for nothing the engine does.
                    if (!active.isEmpty()) step();
                    else inbox.await(Math.max(1, maintenanceDue - System.nanoTime()));
                } catch (RuntimeException e) {
                    // A bug or a native failure in one step fails the turns in flight, not the engine.
                    LOG.log(System.Logger.Level.ERROR, "embedded engine step failed", e);
                    failActive("the embedded engine failed: " + e);
                }
            }
        } catch (Error e) {
            LOG.log(System.Logger.Level.ERROR, "embedded engine failed", e);
        } finally {
            closing = true;
            failAll("the embedded engine stopped");
        }
    }

    private void forgetNow(String key) {
        cache.forget(key);
        for (Turn t : waiting) {
            if (t.key.equals(key)) { // its spill file is gone: ask again
                t.spillChecked = false;
                t.spillHeader = null;
            }
        }
        publishStats();
    }

    private void maintain() {
        cache.expire(ephemeralTtlNanos);
        cache.expireSpills();
        publishStats();
    }

    private void failActive(String why) {
        for (Turn t : List.copyOf(active)) {
            active.remove(t);
            ctx.truncate(t.session.seq, t.session.size());
            finish(t, null, new ModelException(ModelException.Kind.UNAVAILABLE, why));
        }
    }

    private void admit() {
        for (Iterator<Turn> it = waiting.iterator(); it.hasNext(); ) {
            Turn t = it.next();
            if (cache.admit(t)) {
                it.remove();
                inbox.left(1);
                active.add(t);
            } else if (!cache.busy(t.key)) {
                return; // first come, first served: later turns do not overtake one that waits for room
            }
        }
    }

    private void dropCancelled() {
        int before = waiting.size();
        waiting.removeIf(t -> {
            if (t.cancelled()) t.sampler.close();
            return t.cancelled();
        });
        inbox.left(before - waiting.size());
        for (Iterator<Turn> it = active.iterator(); it.hasNext(); ) {
            Turn t = it.next();
            if (t.cancelled()) {
                it.remove();
                finish(t, null, null); // its KV state stays valid: only completed batches are recorded
            }
        }
    }

    /** One batch through the model, then one sampled token for every turn that asked for logits. */
    private void step() {
        List<Turn> batch = fill();
        int rc;
        decodes.lock();
        try {
            rc = ctx.decode();
        } finally {
            decodes.unlock();
        }
        if (rc != 0) {
            for (Turn t : batch) ctx.truncate(t.session.seq, t.session.size()); // undo partial ubatches
            if (rc == 1 && relieve()) return; // retried next step
            for (Turn t : batch) {
                active.remove(t);
                finish(
                        t,
                        null,
                        new ModelException(
                                ModelException.Kind.UNAVAILABLE,
                                rc == 1
                                        ? "the KV cache is full (raise --kv-budget)"
                                        : "llama_decode failed with code " + rc));
            }
            return;
        }
        defragmented = false;
        for (Turn t : batch) advance(t);
    }

    private List<Turn> fill() {
        LlamaContext.Batch b = ctx.batch();
        List<Turn> in = new ArrayList<>();
        int n = active.size();
        int start = Math.floorMod(rotation++, n);
        List<Turn> prefilling = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Turn t = active.get((start + i) % n);
            t.batchTokens = 0;
            t.logitsIndex = -1;
            if (t.prefilling()) {
                prefilling.add(t);
            } else {
                t.logitsIndex = b.add(t.pending, t.session.size(), t.session.seq, true);
                t.batchTokens = 1;
                in.add(t);
            }
        }
        for (int i = 0; i < prefilling.size() && b.room() > 0; i++) {
            Turn t = prefilling.get(i);
            int share = Math.max(1, b.room() / (prefilling.size() - i));
            int count = Math.min(share, t.prompt.length - t.fed);
            for (int k = 0; k < count; k++) {
                int pos = t.fed + k;
                int idx = b.add(t.prompt[pos], pos, t.session.seq, pos == t.prompt.length - 1);
                if (pos == t.prompt.length - 1) t.logitsIndex = idx;
            }
            t.batchTokens = count;
            in.add(t);
        }
        return in;
    }

    /** Frees cells after a full-cache failure: compact once, then evict idle sessions one by one. */
    private boolean relieve() {
        if (!defragmented) {
            defragmented = true;
            ctx.defragment();
            return true;
        }
        return cache.evictOne();
    }

    private void advance(Turn t) {
        KvSession s = t.session;
        if (t.prefilling()) {
            for (int k = 0; k < t.batchTokens; k++) s.append(t.prompt[t.fed + k]);
            t.fed += t.batchTokens;
        } else {
            s.append(t.pending);
            t.pending = -1;
        }
        if (t.logitsIndex < 0) return;
        int token = t.sampler.sample(ctx.logits(t.logitsIndex), t.generated);
        if (t.firstTokenNanos == 0) t.firstTokenNanos = System.nanoTime();
        Finish finish = null;
        if (token == Sampler.NO_TOKEN) {
            active.remove(t);
            finish(
                    t,
                    null,
                    new ModelException(
                            ModelException.Kind.UNAVAILABLE,
                            "the answer's grammar (text.format or"
                                    + " a forced tool call) allows no token of this model's vocabulary after "
                                    + t.generated
                                    + " tokens"));
            return;
        }
        if (model.isEndOfGeneration(token)) {
            finish = Finish.STOP;
        } else {
            t.generated++;
            if (t.topLogprobs >= 0) t.logprob(Logprobs.of(t.sampler.sampledFrom(), token, t.topLogprobs, model));
            t.emit(t.text.add(model.piece(token)));
            if (t.text.stopped()) finish = Finish.STOP;
            else if (t.generated >= t.maxNew) finish = Finish.LENGTH;
            else t.pending = token;
        }
        if (finish != null) {
            active.remove(t);
            finish(t, finish, null);
        }
    }

    /**
     * A turn left the engine: it ended ({@code finish}), failed ({@code error}) or was cancelled
     * (neither). The counters are updated before the caller hears the end.
     */
    private void finish(Turn t, Finish finish, ModelException error) {
        t.sampler.close();
        cache.release(t.session);
        turns++;
        promptTokens += t.prompt.length;
        cachedTokens += t.cached;
        outputTokens += t.generated;
        publishStats();
        LOG.log(System.Logger.Level.INFO, () -> t.summary(error));
        if (finish != null) t.end(finish);
        if (error != null) t.fail(error);
    }

    private void publishStats() {
        SpillStore spill = cache.spill();
        stats = new EngineStats(
                turns,
                promptTokens,
                cachedTokens,
                promptTokens - cachedTokens,
                outputTokens,
                cache.spills,
                cache.drops,
                cache.restores,
                cache.restoreFailures,
                cache.restoreNanos / 1_000_000,
                cache.residentSessions(),
                cache.residentTokens(),
                ctx.cells(),
                cache.forgets,
                spill == null ? 0 : spill.files(),
                spill == null ? 0 : spill.bytes(),
                spill == null ? 0 : spill.overBudget,
                spill == null ? 0 : spill.expired);
    }

    private void failAll(String why) {
        List<Turn> queued = new ArrayList<>(waiting);
        inbox.drain(queued, key -> {});
        inbox.left(queued.size());
        List<Turn> all = new ArrayList<>(active);
        all.addAll(queued);
        for (Turn t : all) {
            t.sampler.close();
            t.fail(new ModelException(ModelException.Kind.UNAVAILABLE, why));
        }
        for (Turn t : active) cache.release(t.session); // what they computed so far stays usable
        active.clear();
        waiting.clear();
    }

    /**
     * Stops the engine thread (running turns fail), then spills idle persistent sessions.
     * Returns false if the thread did not stop within 30 s: then the context is still in use
     * and must not be freed.
     */
    boolean stop() {
        closing = true;
        inbox.wake();
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) return false;
        cache.spillAll();
        publishStats();
        return true;
    }
}
