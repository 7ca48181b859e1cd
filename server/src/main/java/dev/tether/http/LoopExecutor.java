package dev.tether.http;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Hands engine completions back to an event loop in batches. The engine's writer completes a
 * whole group commit at once; hopping each completion separately would wake the loop (an
 * eventfd syscall) once per request, which profiling showed to be a third of the writer's time.
 * Here the first task of a burst schedules one drain and the rest ride along.
 *
 * <p>Thread-safe: {@link #execute} may be called from any thread; tasks run on the loop.
 */
final class LoopExecutor implements Executor {
    private static final String KEY = LoopExecutor.class.getName();
    /** The longest one pass runs before the loop gets back to its sockets. */
    static final long PASS_NANOS = 5_000_000;

    private final Context context;
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();

    private LoopExecutor(Context context) {
        this.context = context;
    }

    /** The executor of the calling event loop (created on first use; call on the loop). */
    static LoopExecutor current() {
        Context context = Vertx.currentContext();
        LoopExecutor executor = context.get(KEY);
        if (executor == null) {
            executor = new LoopExecutor(context);
            context.put(KEY, executor);
        }
        return executor;
    }

    /** A Vert.x future completed on this loop when the engine's stage completes. */
    <T> Future<T> adapt(CompletionStage<T> stage) {
        Promise<T> promise = Promise.promise();
        stage.whenComplete((value, failure) -> execute(() -> {
            if (failure != null) {
                promise.fail(failure);
            } else {
                promise.complete(value);
            }
        }));
        return promise.future();
    }

    @Override
    public void execute(Runnable task) {
        tasks.add(task);
        if (scheduled.compareAndSet(false, true)) {
            context.runOnContext(v -> drain());
        }
    }

    /**
     * Runs the queued tasks for at most {@link #PASS_NANOS}: tasks that arrive while it runs (a
     * thousand catch-up readers each completing read after read, each writing a megabyte of
     * frames) must not keep the loop from its sockets, so the rest waits for the next pass, behind
     * the loop's I/O.
     */
    private void drain() {
        scheduled.set(false);
        long deadline = System.nanoTime() + PASS_NANOS;
        Runnable task;
        while ((task = tasks.poll()) != null) {
            task.run();
            if (System.nanoTime() - deadline > 0) {
                break;
            }
        }
        if (!tasks.isEmpty() && scheduled.compareAndSet(false, true)) {
            context.runOnContext(v -> drain());
        }
    }
}
