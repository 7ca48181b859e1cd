package dev.tether.inference.embedded;

import dev.tether.inference.embedded.llama.LlamaContext;
import dev.tether.inference.embedded.llama.LlamaException;
import dev.tether.inference.embedded.llama.LlamaModel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One llama.cpp context with its own KV cache, sessions and engine thread. llama.cpp b4916
 * attends over every occupied cell of a context for every sequence in it, so a decode step
 * costs in proportion to all resident tokens of the context; splitting the sessions into groups
 * bounds that to the group's tokens, at the price of a smaller cache per group and no batching
 * across groups. {@link Router} says which group a session runs in.
 *
 * <p>Immutable; the scheduler is thread-safe.
 */
record EngineGroup(LlamaContext ctx, TurnScheduler scheduler) {
    /**
     * Starts one engine thread per context. They take turns at the model under one fair lock, so
     * each step has all the engine's threads instead of fighting over the cores.
     */
    static List<EngineGroup> start(
            LlamaModel model, List<LlamaContext> contexts, int sequences, SpillStore spill, EmbeddedSettings settings) {
        Lock decodes = new ReentrantLock(true);
        List<EngineGroup> groups = new ArrayList<>();
        for (LlamaContext ctx : contexts) {
            String name = contexts.size() == 1 ? "tether-engine" : "tether-engine-" + groups.size();
            TurnScheduler scheduler = new TurnScheduler(
                    model,
                    ctx,
                    new KvCache(ctx, sequences, spill),
                    settings.ephemeralTtl().toNanos(),
                    settings.maxWaitingTurns(),
                    decodes,
                    name);
            groups.add(new EngineGroup(ctx, scheduler));
        }
        return List.copyOf(groups);
    }

    /**
     * KV cells per group: its share of {@code budget}, at most room for its sessions at full
     * {@code session} length, in whole 256-cell blocks; refused below one block.
     */
    static int cells(LlamaModel model, long budget, int groups, int sequences, int session) throws LlamaException {
        long byBudget = budget / groups / model.bytesPerToken();
        int cells = (int) (Math.min(byBudget, (long) sequences * session) / 256 * 256);
        if (cells < 256) {
            throw new LlamaException("a KV budget of " + budget + " bytes"
                    + (groups > 1 ? " split into " + groups + " engine groups" : "") + " holds only " + byBudget
                    + " tokens of this model per " + (groups > 1 ? "group" : "context") + " ("
                    + model.bytesPerToken() + " bytes per token); give --kv-budget at least "
                    + 256L * groups * model.bytesPerToken() + " bytes"
                    + (groups > 1 ? " or fewer --engine-groups" : ""));
        }
        return cells;
    }

    /**
     * Which group each session runs in. A session stays in its group while the router remembers
     * it; a new one goes to the group with the fewest resident and waiting sessions (ties in
     * turn), so groups fill evenly where a hash would crowd some and leave others empty. The
     * spill directory is shared, so a session the router forgot (it keeps the most recent
     * {@link #REMEMBERED}) is restored in whichever group it lands in next.
     *
     * <p>Thread-safe.
     */
    static final class Router {
        static final int REMEMBERED = 16_384;
        private final List<EngineGroup> groups;
        private final java.util.LinkedHashMap<String, EngineGroup> homes =
                new java.util.LinkedHashMap<>(64, 0.75f, true) {
                    @Override
                    protected boolean removeEldestEntry(java.util.Map.Entry<String, EngineGroup> eldest) {
                        return size() > REMEMBERED;
                    }
                };
        private int next;

        Router(List<EngineGroup> groups) {
            this.groups = groups;
        }

        synchronized EngineGroup route(String sessionKey) {
            EngineGroup home = homes.get(sessionKey);
            if (home != null) return home;
            if (groups.size() == 1) return groups.get(0);
            home = null;
            int least = Integer.MAX_VALUE;
            for (int i = 0; i < groups.size(); i++) {
                EngineGroup g = groups.get((next + i) % groups.size());
                int load = g.scheduler.stats().residentSessions() + g.scheduler.waitingTurns();
                if (load < least) {
                    least = load;
                    home = g;
                }
            }
            next = (groups.indexOf(home) + 1) % groups.size();
            homes.put(sessionKey, home);
            return home;
        }

        /** Forgets where {@code sessionKey} ran (its state is being dropped). */
        synchronized void forget(String sessionKey) {
            homes.remove(sessionKey);
        }
    }

    /** Totals over all groups (the spill store is shared: its figures are taken once). */
    static EngineStats stats(List<EngineGroup> groups) {
        EngineStats sum = null;
        for (EngineGroup g : groups) {
            EngineStats s = g.scheduler.stats();
            sum = sum == null
                    ? s
                    : new EngineStats(
                            sum.turns() + s.turns(),
                            sum.promptTokens() + s.promptTokens(),
                            sum.cachedTokens() + s.cachedTokens(),
                            sum.prefilledTokens() + s.prefilledTokens(),
                            sum.outputTokens() + s.outputTokens(),
                            sum.spills() + s.spills(),
                            sum.drops() + s.drops(),
                            sum.restores() + s.restores(),
                            sum.restoreFailures() + s.restoreFailures(),
                            sum.restoreMillis() + s.restoreMillis(),
                            sum.residentSessions() + s.residentSessions(),
                            sum.residentTokens() + s.residentTokens(),
                            sum.cells() + s.cells(),
                            sum.forgets() + s.forgets(),
                            Math.max(sum.spillFiles(), s.spillFiles()),
                            Math.max(sum.spillBytes(), s.spillBytes()),
                            Math.max(sum.spillsOverBudget(), s.spillsOverBudget()),
                            Math.max(sum.spillsExpired(), s.spillsExpired()));
        }
        return sum;
    }
}
