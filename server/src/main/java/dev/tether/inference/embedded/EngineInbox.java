package dev.tether.inference.embedded;

import dev.tether.inference.ModelException;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The engine thread's mailbox: turns to run and sessions to forget, from any thread. Turns that
 * wait (here or in the engine's waiting list, until admitted) are bounded: beyond
 * {@code maxWaiting} a turn is refused with {@link ModelException.Kind#OVERLOADED}, never
 * queued without limit. The engine parks on the inbox when it has nothing to run; submitting,
 * forgetting and {@link #wake()} (a cancel) unpark it.
 *
 * <p>Thread-safe. {@link #await}, {@link #drain} and {@link #left} are for the engine thread.
 */
final class EngineInbox {
    private static final System.Logger LOG = System.getLogger(EngineInbox.class.getName());
    /** Forgets are tiny; a flood beyond this is logged and left to the TTL and the budget. */
    private static final int MAX_FORGETS = 65_536;

    private final int maxWaiting;
    private final Queue<Turn> turns = new ConcurrentLinkedQueue<>();
    private final LinkedBlockingQueue<String> forgets = new LinkedBlockingQueue<>(MAX_FORGETS);
    /** Turns submitted and not yet admitted, cancelled or failed. */
    private final AtomicInteger waiting = new AtomicInteger();

    private final AtomicLong refused = new AtomicLong();
    private volatile Thread engine;

    EngineInbox(int maxWaiting) {
        if (maxWaiting < 1) throw new IllegalArgumentException("maxWaiting < 1");
        this.maxWaiting = maxWaiting;
    }

    /** The engine thread, which {@link #wake()} unparks; set before it starts. */
    void attach(Thread engine) {
        this.engine = engine;
    }

    /** Queues a turn, or refuses it when {@code maxWaiting} turns already wait. */
    void submit(Turn t) throws ModelException {
        if (waiting.incrementAndGet() > maxWaiting) {
            waiting.decrementAndGet();
            refused.incrementAndGet();
            throw new ModelException(
                    ModelException.Kind.OVERLOADED,
                    "The embedded engine is at capacity: " + maxWaiting
                            + " turns are already waiting for it. Retry shortly.");
        }
        turns.add(t);
        wake();
    }

    /** Takes back a turn the engine has not seen (it is shutting down); false if it has. */
    boolean withdraw(Turn t) {
        if (!turns.remove(t)) return false;
        waiting.decrementAndGet();
        return true;
    }

    /** Asks for a session's state to be dropped. */
    void forget(String key) {
        if (!forgets.offer(key)) {
            LOG.log(System.Logger.Level.WARNING, "too many pending forgets; a session's KV state stays until evicted");
            return;
        }
        wake();
    }

    /** Wakes the engine if it is parked (after a cancel, or to stop). */
    void wake() {
        Thread t = engine;
        if (t != null) LockSupport.unpark(t);
    }

    /** Engine thread: moves new turns to {@code into} and hands each key to forget to {@code forget}. */
    void drain(List<Turn> into, Consumer<String> forget) {
        for (Turn t; (t = turns.poll()) != null; ) into.add(t);
        for (String key; (key = forgets.poll()) != null; ) forget.accept(key);
    }

    /** Engine thread: {@code n} waiting turns were admitted, cancelled or failed. */
    void left(int n) {
        waiting.addAndGet(-n);
    }

    /**
     * Engine thread: parks for up to {@code nanos} unless work is already here. A wake-up
     * between the check and the park is not lost: it leaves a permit that ends the park.
     */
    void await(long nanos) {
        if (turns.isEmpty() && forgets.isEmpty()) LockSupport.parkNanos(this, nanos);
    }

    /** Turns waiting now (here and in the engine's waiting list). */
    int waiting() {
        return waiting.get();
    }

    /** Turns refused since start because too many were waiting. */
    long refused() {
        return refused.get();
    }
}
