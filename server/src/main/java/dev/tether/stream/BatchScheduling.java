package dev.tether.stream;

import dev.tether.os.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Moves the writer thread between Linux's {@code SCHED_OTHER} and {@code SCHED_BATCH} policies
 * as its load changes. Under {@code SCHED_BATCH} a thread keeps its fair share of the CPU, but
 * when it wakes it does not preempt the thread that is running.
 *
 * <p>While writes queue up faster than one flush takes (a group commit of {@link #BUSY_BATCH} or
 * more commands), the writer is under {@code SCHED_BATCH}: a flush that completes waits for the
 * event loop to finish what it is doing instead of cutting in, so the loop reads the rest of its
 * ready requests first, the next group commit takes more of them, and the two threads stop
 * switching back and forth. With the server on one core under the append load, that meant a
 * fifth to a third fewer {@code fdatasync}s, a sixth of the event loop's preemptions and, in
 * most runs, 6–12% more appends for the same CPU (docs/benchmarks.md).
 *
 * <p>Under a light load the writer is under {@code SCHED_OTHER}, as any thread. Always under
 * {@code SCHED_BATCH}, a woken writer waited for the running thread's time slice, and a lone
 * append's p99 doubled. The policy follows the group commit the writer has just taken, so the
 * first lone write after a busy spell is the one that may still wait: for the event loop to get
 * back to its sockets, or for a time slice if something else keeps the core.
 *
 * <p>With a core to spare, a woken thread runs there at once under either policy. Elsewhere than
 * on Linux, or once a call has failed, nothing changes. Off with {@code
 * -Dtether.batchScheduling=false} (for comparisons).
 *
 * <p>Thread-safety: confined to the thread it schedules (the calls apply to the calling thread).
 */
@SuppressWarnings("restricted") // one libc call on our own thread; the launcher enables native access
final class BatchScheduling {
    private static final System.Logger LOG = System.getLogger(BatchScheduling.class.getName());
    /** A group commit at least this large means writes are waiting: the writer need not cut in. */
    static final int BUSY_BATCH = 8;
    /** The policies' numbers in {@code <sched.h>}. */
    private static final int SCHED_OTHER = 0, SCHED_BATCH = 3;

    private static final MethodHandle SET_SCHEDULER = Boolean.parseBoolean(
                    System.getProperty("tether.batchScheduling", "true"))
            ? Libc.linux(
                    "sched_setscheduler",
                    FunctionDescriptor.of(
                            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS))
            : null;

    private boolean batch;
    private boolean failed = SET_SCHEDULER == null;

    /** Called with the size of each group commit the thread takes. */
    void took(int commands) {
        boolean busy = commands >= BUSY_BATCH;
        if (busy != batch && !failed) {
            if (set(busy ? SCHED_BATCH : SCHED_OTHER)) {
                batch = busy;
            } else {
                failed = true; // not again on every batch
            }
        }
    }

    private static boolean set(int policy) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment param = arena.allocate(ValueLayout.JAVA_INT); // struct sched_param: priority 0
            int rc = (int) SET_SCHEDULER.invokeExact(0, policy, param); // pid 0: the calling thread
            if (rc != 0) {
                LOG.log(
                        System.Logger.Level.DEBUG,
                        "sched_setscheduler({0}) failed; the writer keeps its policy",
                        policy);
            }
            return rc == 0;
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.DEBUG, "sched_setscheduler unavailable: " + t);
            return false;
        }
    }
}
