package dev.tether.stream;

import java.util.ArrayList;
import java.util.List;

/**
 * One-shot listeners waiting for a stream's tail to move (append, close, delete). Long-poll
 * and SSE readers register here instead of polling the store.
 *
 * <p>Thread-safe: registration from any thread, {@link #fire} from the writer thread.
 * Listeners run on the writer thread and must only hand work off (never block).
 */
final class TailWatchers {
    private List<Runnable> listeners = new ArrayList<>();

    synchronized void add(Runnable listener) {
        listeners.add(listener);
    }

    synchronized void remove(Runnable listener) {
        listeners.remove(listener);
    }

    void fire() {
        List<Runnable> toRun;
        synchronized (this) {
            if (listeners.isEmpty()) {
                return;
            }
            toRun = listeners;
            listeners = new ArrayList<>();
        }
        for (Runnable r : toRun) {
            r.run();
        }
    }
}
