package dev.tether.stream;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * One-shot listeners waiting for a stream's tail to move (append, close, delete). Long-poll
 * and SSE readers register here instead of polling the store.
 *
 * <p>A set, not a list: every idle SSE reader unregisters and registers again at each keep-alive,
 * and with thousands of readers on one stream a linear remove made that quadratic.
 *
 * <p>Thread-safe: registration from any thread; {@link #fire}, or {@link #take} then {@link #run},
 * from the writer thread (and from cluster mode's sync). Listeners run on the thread that wakes
 * them and must only hand work off (never block).
 */
final class TailWatchers {
    private static final System.Logger LOG = System.getLogger(TailWatchers.class.getName());

    private Set<Runnable> listeners = new LinkedHashSet<>();

    synchronized void add(Runnable listener) {
        listeners.add(listener);
    }

    synchronized void remove(Runnable listener) {
        listeners.remove(listener);
    }

    synchronized boolean isEmpty() {
        return listeners.isEmpty();
    }

    void fire() {
        run(take());
    }

    /**
     * Unregisters and returns the listeners registered so far, to {@link #run} later. A listener
     * registered after this call is not among them: it was registered after whatever change the
     * caller is about to announce, and {@link StreamEngine#watch} checks the stream itself.
     */
    synchronized Set<Runnable> take() {
        if (listeners.isEmpty()) {
            return Set.of();
        }
        Set<Runnable> taken = listeners;
        listeners = new LinkedHashSet<>();
        return taken;
    }

    static void run(Set<Runnable> taken) {
        for (Runnable r : taken) {
            try {
                r.run();
            } catch (RuntimeException e) { // one broken listener must not leave the others waiting
                LOG.log(System.Logger.Level.ERROR, "a tail watcher failed", e);
            }
        }
    }
}
