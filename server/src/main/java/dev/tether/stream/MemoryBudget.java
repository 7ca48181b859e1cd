package dev.tether.stream;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One memory limit, like Redis {@code maxmemory}, for what the server holds on behalf of clients.
 * Two kinds of use count against it:
 *
 * <ul>
 *   <li><b>Pinned</b>: request bodies being received, writes queued or in flight, and
 *       idempotent-producer state. A reservation that does not fit is refused
 *       ({@link #tryReserve}), and the caller answers 503 {@code memory_full}; it is given back
 *       with {@link #release} when the request ends, however it ends.
 *   <li><b>Cached</b>: the recent-message windows. They make room: when pinned plus cached use
 *       passes the limit, the least recently used windows are emptied until use is back below
 *       {@link #LOW_WATER} of the limit, and their readers read from the store instead.
 * </ul>
 *
 * <p>Thread-safe. Windows report their size changes outside their own monitor, so evicting
 * (which takes each window's monitor in turn) never runs while a window's monitor is held.
 */
public final class MemoryBudget {
    /** Eviction frees down to this share of the limit, so it runs in bursts, not on every append. */
    static final double LOW_WATER = 0.9;

    private final long limit;
    private final AtomicLong pinned = new AtomicLong();
    private final AtomicLong cached = new AtomicLong();
    private final AtomicLong ticks = new AtomicLong();
    private final Set<RecentWindow> nonEmpty = ConcurrentHashMap.newKeySet();
    private final Object evicting = new Object();

    /** @param limit bytes; see {@link #defaultLimit()} */
    public MemoryBudget(long limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("the memory budget must be positive, got " + limit);
        }
        this.limit = limit;
    }

    /**
     * Half the heap the JVM may grow to: the rest is for everything not counted here (buffers on
     * their way to sockets, the model engine's Java side, garbage not yet collected).
     */
    public static long defaultLimit() {
        return Runtime.getRuntime().maxMemory() / 2;
    }

    /** The refusal for {@code what} of {@code bytes} that does not fit now (503 {@code memory_full}, retry). */
    public WriteRejectedException full(String what, long bytes) {
        return new WriteRejectedException(
                WriteRejectedException.Reason.MEMORY_FULL,
                "the server's memory budget (" + limit + " bytes, --max-memory) has no room for " + what + " of "
                        + bytes + " bytes right now; retry shortly",
                null);
    }

    public long limit() {
        return limit;
    }

    /** Bytes of bodies, queued writes and producer state held now. */
    public long pinned() {
        return pinned.get();
    }

    /** Bytes in recent-message windows now. */
    public long cached() {
        return cached.get();
    }

    /**
     * Reserves {@code bytes} that cannot be evicted, emptying windows to make room if needed.
     *
     * @return false, reserving nothing, if pinned use would pass the limit
     */
    public boolean tryReserve(long bytes) {
        while (true) {
            long now = pinned.get();
            if (now + bytes > limit) {
                return false;
            }
            if (pinned.compareAndSet(now, now + bytes)) {
                break;
            }
        }
        evictIfOver();
        return true;
    }

    /** Whether {@code bytes} more could be pinned now (without reserving them). */
    boolean hasRoomFor(long bytes) {
        return pinned.get() + bytes <= limit;
    }

    /** Pins bytes that are already held (state loaded at startup, or committed): never refused. */
    void charge(long bytes) {
        pinned.addAndGet(bytes);
        evictIfOver();
    }

    public void release(long bytes) {
        pinned.addAndGet(-bytes);
    }

    /** A logical clock for least-recently-used order. */
    long tick() {
        return ticks.incrementAndGet();
    }

    /** Called by a window under its monitor (it takes no lock): whether it has anything to evict. */
    void track(RecentWindow window, boolean empty) {
        if (empty) {
            nonEmpty.remove(window);
        } else {
            nonEmpty.add(window);
        }
    }

    /** Called by a window outside its monitor after its size changed. */
    void cachedChanged(long delta) {
        cached.addAndGet(delta);
        if (delta > 0) {
            evictIfOver();
        }
    }

    /** Drops from every window the messages added before {@code cutoff} ({@link RecentWindow#MAX_AGE_NANOS}). */
    void expire(long cutoff) {
        for (RecentWindow w : nonEmpty) {
            w.expire(cutoff);
        }
    }

    private record Candidate(RecentWindow window, long lastUsed) {}

    private void evictIfOver() {
        if (pinned.get() + cached.get() <= limit) {
            return;
        }
        synchronized (evicting) {
            long target = (long) (limit * LOW_WATER);
            if (pinned.get() + cached.get() <= limit) {
                return;
            }
            // Snapshot the use times: windows keep being read while this sorts.
            List<Candidate> oldestFirst = new ArrayList<>();
            for (RecentWindow w : nonEmpty) {
                oldestFirst.add(new Candidate(w, w.lastUsed()));
            }
            oldestFirst.sort(Comparator.comparingLong(Candidate::lastUsed));
            for (Candidate c : oldestFirst) {
                if (pinned.get() + cached.get() <= target) {
                    return;
                }
                c.window().clear();
            }
        }
    }
}
