package dev.tether.inference.embedded;

import dev.tether.inference.embedded.llama.LlamaContext;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which sessions hold KV state in the context, and making room for the next turn. The budget
 * is the context's cell count: resident sessions plus the reservations of running turns never
 * exceed it. The least recently used idle session is evicted first: spilled to disk when its
 * chain is stored and spilling is on, dropped otherwise ({@code store:false} state never
 * reaches disk). A session whose sequence was evicted is restored from its spill file on its
 * next turn, if the file checks out; otherwise the prompt is recomputed.
 *
 * <p>Not thread-safe; confined to the engine thread.
 */
final class KvCache {
    private static final System.Logger LOG = System.getLogger(KvCache.class.getName());
    /** Restoring fewer matching tokens than this is not worth reading a file. */
    private static final int MIN_RESTORE = 16;

    private final LlamaContext ctx;
    private final SpillStore spill;
    private final Map<String, KvSession> resident = new HashMap<>();
    private final Deque<Integer> freeSeqs = new ArrayDeque<>();
    long spills;
    long drops;
    long restores;
    long restoreFailures;
    long restoreNanos;
    long forgets;

    /** @param spill where persistent sessions go when evicted, or null to never spill */
    KvCache(LlamaContext ctx, int sequences, SpillStore spill) {
        this.ctx = ctx;
        this.spill = spill;
        for (int s = 0; s < sequences; s++) freeSeqs.add(s);
    }

    /**
     * Makes the turn's session resident with room for the whole turn, restoring it from disk if
     * it was spilled, and trims its KV state to the longest common prefix with the prompt.
     * Returns false (changing nothing) if the session is busy or running turns leave no room.
     */
    boolean admit(Turn t) {
        KvSession s = resident.get(t.key);
        if (s != null && s.busy) return false;
        SpillStore.Header spilled = s == null ? spilled(t) : null;
        // A restore loads the whole spilled state before trimming it, so it needs that much room.
        int need = Math.max(t.cellsNeeded(), spilled == null ? 0 : spilled.tokens().length);
        long available = ctx.cells() - used() + (s == null ? 0 : s.cells());
        if (!fits(need, available, s)) return false;
        if (spilled != null) spill.pin(); // the evictions below spill others: keep the file to restore
        try {
            while (available < need || (s == null && freeSeqs.isEmpty())) {
                KvSession victim = leastRecentlyUsedIdle(s);
                available += victim.cells();
                evict(victim);
            }
            if (s == null) {
                s = new KvSession(t.key, t.persistent);
                s.seq = freeSeqs.poll();
                resident.put(t.key, s);
                if (spilled != null) restore(s, t, spilled);
            }
        } finally {
            if (spilled != null) spill.unpin();
        }
        s.persistent &= t.persistent; // one store:false turn makes the whole state unspillable
        int keep = Math.min(s.commonPrefix(t.prompt), t.prompt.length - 1); // the last token must be evaluated
        ctx.truncate(s.seq, keep);
        s.truncate(keep);
        s.busy = true;
        s.reserved = need;
        t.session = s;
        t.cached = keep;
        t.fed = keep;
        return true;
    }

    /** Whether evicting every idle session (other than {@code s}) would make room: evict nothing otherwise. */
    private boolean fits(int need, long available, KvSession s) {
        long idleCells = 0;
        int idle = 0;
        for (KvSession o : resident.values()) {
            if (!o.busy && o != s) {
                idleCells += o.cells();
                idle++;
            }
        }
        return available + idleCells >= need && (s != null || !freeSeqs.isEmpty() || idle > 0);
    }

    /** The turn's spill header if restoring it is worth it; read once per turn. */
    private SpillStore.Header spilled(Turn t) {
        if (spill == null) return null;
        if (!t.spillChecked) {
            t.spillChecked = true;
            try {
                SpillStore.Header h = spill.header(t.key);
                if (h != null && h.tokens().length > ctx.cells()) {
                    // Spilled under a larger --kv-budget: it can never be restored here, and waiting
                    // for room it will never get would hold every turn queued behind it.
                    throw new SpillStore.Unusable("it holds " + h.tokens().length + " tokens, more than the "
                            + ctx.cells() + " the KV cache has now");
                }
                if (h != null && KvSession.commonPrefix(h.tokens(), h.tokens().length, t.prompt) >= MIN_RESTORE) {
                    t.spillHeader = h;
                }
            } catch (SpillStore.Unusable e) {
                unusable(t.key, e.getMessage());
            }
        }
        return t.spillHeader;
    }

    private void unusable(String key, String why) {
        restoreFailures++;
        spill.delete(key);
        LOG.log(System.Logger.Level.WARNING, "spilled KV state of a session is unusable ({0}); recomputing", why);
    }

    /** The turn is over: its session becomes idle and most recently used (or goes, if forgotten). */
    void release(KvSession s) {
        s.busy = false;
        s.reserved = 0;
        s.lastUsedNanos = System.nanoTime();
        if (s.forgotten && s.resident()) evict(s);
    }

    /**
     * Drops the session's KV state and deletes its spill file. A busy session keeps its state
     * until its turn ends, and is never spilled again.
     */
    void forget(String key) {
        forgets++;
        if (spill != null) spill.delete(key);
        KvSession s = resident.get(key);
        if (s == null) return;
        s.persistent = false;
        s.forgotten = true;
        if (!s.busy) evict(s);
    }

    /** Deletes spill files idle for longer than their TTL. */
    void expireSpills() {
        if (spill != null) spill.expire();
    }

    /** Whether a turn of {@code key} is running (its next turn must wait for it). */
    boolean busy(String key) {
        KvSession s = resident.get(key);
        return s != null && s.busy;
    }

    /** Evicts one idle session to relieve a full cache; false if there is none. */
    boolean evictOne() {
        KvSession victim = leastRecentlyUsedIdle(null);
        if (victim == null) return false;
        evict(victim);
        return true;
    }

    /** Drops idle {@code store:false} sessions unused for longer than {@code ttlNanos}. */
    void expire(long ttlNanos) {
        long now = System.nanoTime();
        List<KvSession> old = resident.values().stream()
                .filter(s -> !s.busy && !s.persistent && now - s.lastUsedNanos > ttlNanos)
                .toList();
        old.forEach(this::evict);
    }

    /**
     * Evicts every idle session at shutdown: stored ones are spilled, so a restart finds them
     * warm; the others are dropped.
     */
    void spillAll() {
        List.copyOf(resident.values()).stream().filter(s -> !s.busy).forEach(this::evict);
    }

    int residentSessions() {
        return resident.size();
    }

    long residentTokens() {
        return resident.values().stream().mapToLong(KvSession::size).sum();
    }

    /** The spill store, or null when spilling is off. */
    SpillStore spill() {
        return spill;
    }

    private long used() {
        long n = 0;
        for (KvSession s : resident.values()) n += s.cells();
        return n;
    }

    private KvSession leastRecentlyUsedIdle(KvSession except) {
        return resident.values().stream()
                .filter(s -> !s.busy && s != except)
                .min(Comparator.comparingLong(s -> s.lastUsedNanos))
                .orElse(null);
    }

    private void evict(KvSession s) {
        if (s.persistent && spill != null && s.size() > 0) {
            write(s);
        } else {
            drops++;
        }
        ctx.truncate(s.seq, 0);
        freeSeqs.add(s.seq);
        s.seq = -1;
        resident.remove(s.key);
    }

    private void write(KvSession s) {
        long start = System.nanoTime();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(ctx.stateSize(s.seq));
            long n = ctx.saveState(s.seq, state);
            if (!spill.write(s.key, s.tokens(), state.asSlice(0, n))) {
                drops++;
                LOG.log(System.Logger.Level.DEBUG, "a session's KV state ({0} bytes) exceeds the disk budget", n);
                return;
            }
            spills++;
            LOG.log(
                    System.Logger.Level.DEBUG,
                    "spilled {0} tokens ({1} bytes) in {2} ms",
                    s.size(),
                    n,
                    (System.nanoTime() - start) / 1_000_000);
        } catch (IOException | RuntimeException e) {
            drops++;
            LOG.log(System.Logger.Level.WARNING, "could not spill a session's KV state; dropped it: {0}", e.toString());
        }
    }

    private void restore(KvSession s, Turn t, SpillStore.Header h) {
        long start = System.nanoTime();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = spill.read(h, arena);
            if (state == null) return; // deleted (budget, TTL, forget) since its header was read: recompute
            // llama.cpp needs the state's cells contiguous: compact the cache and retry once.
            if (ctx.loadState(s.seq, state) == 0) {
                ctx.truncate(s.seq, 0);
                ctx.defragment();
                if (ctx.loadState(s.seq, state) == 0) {
                    // Not the file's fault: keep it for a later turn.
                    ctx.truncate(s.seq, 0);
                    restoreFailures++;
                    LOG.log(
                            System.Logger.Level.WARNING,
                            "could not restore a spilled session ({0}); recomputing",
                            ctx.recentErrors());
                    return;
                }
            }
            if (ctx.lastPosition(s.seq) != h.tokens().length - 1) {
                throw new SpillStore.Unusable("its state does not cover the " + h.tokens().length + " tokens it lists");
            }
            s.replace(h.tokens());
            t.restored = h.tokens().length;
            t.restoreNanos = System.nanoTime() - start;
            restoreNanos += t.restoreNanos;
            restores++;
        } catch (SpillStore.Unusable e) {
            ctx.truncate(s.seq, 0);
            s.truncate(0);
            unusable(s.key, e.getMessage());
        }
    }
}
