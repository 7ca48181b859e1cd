package dev.tether.inference.embedded;

import dev.tether.inference.embedded.llama.LlamaContext;
import java.util.List;

/**
 * One llama.cpp context with its own KV cache, sessions and engine thread. llama.cpp b4916
 * attends over every occupied cell of a context for every sequence in it, so a decode step
 * costs in proportion to all resident tokens of the context; splitting the sessions into groups
 * bounds that to the group's tokens, at the price of a smaller cache per group and no batching
 * across groups. A session always lands in the same group ({@link #of}).
 *
 * <p>Immutable; the scheduler is thread-safe.
 */
record EngineGroup(LlamaContext ctx, TurnScheduler scheduler) {
    /** The group of {@code sessionKey}: a fixed hash, so a session's KV state is found again. */
    static EngineGroup of(List<EngineGroup> groups, String sessionKey) {
        return groups.get(Math.floorMod(sessionKey.hashCode(), groups.size()));
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
