package dev.tether.stream;

import dev.tether.store.StoreException;
import dev.tether.store.StreamStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Flushes committed batches to disk off the writer thread. While one flush runs, the writer
 * keeps committing; the next flush then covers every batch committed meanwhile, so the cost of
 * an fsync is shared by all of them and throughput is not bounded by fsync latency.
 *
 * <p>If this thread dies (an {@link Error}), it reports what it held as not flushed; the writer
 * also checks {@link #isAlive} so that nothing waits for a flush that will never come.
 *
 * <p>Thread-safety: {@link #submit} is called by the writer thread; the flushing runs on this
 * class's own thread; results go back through {@code done} as {@link WriteCommand.Synced}.
 */
final class StoreSyncer {
    private final EngineObserver observer;
    private final StreamStore store;
    private final Consumer<WriteCommand.Synced> done;
    /** Unbounded, but never longer than the batches the writer has committed and not published. */
    private final BlockingQueue<WriteBatch> queue = new LinkedBlockingQueue<>();

    private final Thread thread;
    private volatile boolean running = true;

    StoreSyncer(StreamStore store, Consumer<WriteCommand.Synced> done, EngineObserver observer) {
        this.observer = observer;
        this.store = store;
        this.done = done;
        this.thread = Thread.ofPlatform().name("tether-sync").unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    void submit(WriteBatch batch) {
        queue.add(batch);
    }

    boolean isAlive() {
        return thread.isAlive();
    }

    private void run() {
        List<WriteBatch> batches = new ArrayList<>();
        try {
            while (running || !queue.isEmpty()) {
                WriteBatch first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batches.add(first);
                queue.drainTo(batches);
                StoreException failure = null;
                if (batches.stream().anyMatch(b -> !b.isEmpty())) {
                    try {
                        long start = System.nanoTime();
                        store.sync();
                        observer.synced(System.nanoTime() - start);
                    } catch (StoreException e) {
                        failure = e;
                    }
                }
                done.accept(new WriteCommand.Synced(List.copyOf(batches), failure));
                batches.clear();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) { // an Error ends this thread: what it held was not flushed
            batches.addAll(queue);
            done.accept(new WriteCommand.Synced(
                    List.copyOf(batches), new StoreException("the sync thread died: " + t, t, true)));
        }
    }

    /** Flushes what is queued, then stops. */
    void shutdown() throws InterruptedException {
        running = false;
        thread.join();
    }
}
