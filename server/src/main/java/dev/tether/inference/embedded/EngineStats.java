package dev.tether.inference.embedded;

/**
 * Totals since the engine started, and what is resident now.
 *
 * @param turns            turns completed, cancelled or failed after admission
 * @param promptTokens     prompt tokens of those turns
 * @param cachedTokens     prompt tokens served from a session's KV cache (resident or restored)
 * @param prefilledTokens  prompt tokens the model had to evaluate
 * @param outputTokens     tokens generated
 * @param spills           sessions written to disk to make room
 * @param drops            sessions evicted without a spill (store:false, or spilling disabled)
 * @param restores         sessions read back from disk
 * @param restoreFailures  spill files that were corrupt or from another model or build
 * @param restoreMillis    total time spent restoring
 * @param residentSessions sessions holding a sequence now
 * @param residentTokens   tokens those sessions hold
 * @param cells            KV cache size in tokens
 * @param forgets          sessions forgotten: their chain was deleted or expired, or nothing
 *                         could continue them (a store:false response over HTTP)
 * @param spillFiles       spill files on disk now
 * @param spillBytes       bytes of those files
 * @param spillsOverBudget spill files deleted (least recently used first) to keep the disk budget
 * @param spillsExpired    spill files deleted because they were unused for longer than the TTL
 */
public record EngineStats(
        long turns,
        long promptTokens,
        long cachedTokens,
        long prefilledTokens,
        long outputTokens,
        long spills,
        long drops,
        long restores,
        long restoreFailures,
        long restoreMillis,
        int residentSessions,
        long residentTokens,
        int cells,
        long forgets,
        int spillFiles,
        long spillBytes,
        long spillsOverBudget,
        long spillsExpired) {}
