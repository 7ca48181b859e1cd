package dev.tether.cli;

import dev.tether.os.Libc;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * How Linux schedules the JVM's JIT compiler threads against the server's own: with a short time
 * slice by default ({@code --jit-slice-us}), at a lower priority when {@code --jit-nice} asks for
 * it.
 *
 * <p><b>The slice.</b> Linux's scheduler (EEVDF, 6.6+) lets the thread it has just given the core
 * run its whole slice (1.4 ms on the test machine) before a thread that wakes can take it, and with
 * a 250 Hz tick a compilation often ran 4–5 ms. On one core that held back the requests the event
 * loop and the writer woke for: in traces of the SSE phase after the append load, the JIT ran 3–8
 * ms inside the window of 23 of the 24 slowest events of two runs. Since Linux 6.12 a thread may
 * ask for a shorter slice ({@code sched_setattr}'s {@code sched_runtime}, no privilege needed; the
 * kernel keeps it within 0.1–100 ms). With the compiler threads at 0.1 ms, a thread that wakes
 * after a compilation has used that much of its turn takes the core at once (one that wakes sooner
 * still waits for the next wake-up or tick). Only the slice changes: each thread keeps its policy
 * and nice value, so the compiler keeps its share of a saturated core. On kernels before 6.12 the
 * slice is accepted and ignored. (Under {@code SCHED_BATCH} as well, so that a compiler thread would never take the
 * core when it wakes, a server saturated from its start ran a fifth to a third slower for a
 * minute; docs/benchmarks.md.)
 *
 * <p><b>The nice value</b>, off by default. At nice 19 the SSE delivery p99 was lower in nine pairs
 * of eleven, but while the core stays saturated the JIT gets about 1.5% of it, so code stays in its
 * profiled tiers: a fresh server pinned to one core and saturated from its start with empty POSTs
 * did 65–72 k requests/s for a whole minute at nice 19, against 137–147 k at nice 0 after its first
 * 10 s. Raising one's own nice value needs no privilege, but lowering it again does, so it is set
 * once, at start.
 *
 * <p>A compiler thread the JVM adds later is started by a compiler thread, and inherits both.
 * Elsewhere than on Linux, or when a call fails, nothing changes (docs/benchmarks.md has the
 * measurements).
 *
 * <p>Thread-safety: stateless; {@link #apply} may be called from any thread.
 */
@SuppressWarnings("restricted") // one libc call per compiler thread; the launcher enables native access
final class JitPriority {
    private static final System.Logger LOG = System.getLogger(JitPriority.class.getName());
    /** Thread names as the kernel shows them ({@code comm}, cut at 15 characters). */
    private static final String C1 = "C1 CompilerThre", C2 = "C2 CompilerThre";

    private static final int PRIO_PROCESS = 0; // <sys/resource.h>; with a thread id it names that thread
    private static final long RESET_ON_FORK = 0x01; // SCHED_FLAG_RESET_ON_FORK, <linux/sched.h>
    /** {@code struct sched_attr} as first published ({@code SCHED_ATTR_SIZE_VER0}): 48 bytes. */
    private static final int ATTR_SIZE = 48;
    /**
     * {@code sched_setattr}'s system call number, by architecture (glibc before 2.41 has no
     * wrapper); {@code sched_getattr}'s is the next one on both.
     */
    private static final long SETATTR =
            switch (System.getProperty("os.arch", "").toLowerCase(Locale.ROOT)) {
                case "amd64", "x86_64" -> 314;
                case "aarch64" -> 274;
                default -> -1;
            };

    private static final long GETATTR = SETATTR < 0 ? -1 : SETATTR + 1;

    private JitPriority() {}

    /**
     * Gives every compiler thread of this process the nice value {@code nice} and, when {@code
     * sliceMicros} is not 0, that time slice; nothing when both are 0 or the platform does not allow
     * it.
     */
    static void apply(int nice, int sliceMicros) {
        MethodHandle syscall = sliceMicros != 0 ? syscall() : null;
        MethodHandle setPriority = nice != 0 ? setPriority() : null;
        if (syscall == null && setPriority == null) {
            return;
        }
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"));
                Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(ATTR_SIZE, 8);
            for (Path task : tasks.toList()) {
                if (compiler(task)) {
                    int tid = Integer.parseInt(task.getFileName().toString());
                    boolean sliced = syscall != null && trySlice(syscall, tid, attr, nice, sliceMicros);
                    if (!sliced && setPriority != null) {
                        // the nice value alone where the slice cannot be asked for (a filter on the
                        // call, an architecture not listed) or was not asked for
                        setPriority(setPriority, tid, nice);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "compiler threads not found: " + e);
        }
    }

    private static MethodHandle setPriority() {
        return Libc.linux(
                "setpriority",
                FunctionDescriptor.of(
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }

    /**
     * {@code syscall(number, tid, attr, a, b)}, which serves {@code sched_getattr(tid, attr, size,
     * 0)} and {@code sched_setattr(tid, attr, 0, unused)}; null on an architecture not listed.
     */
    private static MethodHandle syscall() {
        return SETATTR < 0
                ? null
                : Libc.linux(
                        "syscall",
                        FunctionDescriptor.of(
                                ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_LONG, // the variable arguments, each a full register
                                ValueLayout.ADDRESS,
                                ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_LONG),
                        Linker.Option.firstVariadicArg(1));
    }

    /**
     * Reads thread {@code tid}'s scheduling attributes and writes them back with the slice asked
     * for, its nice value raised to {@code nice} if it is lower, and its policy and flags as they
     * were: a server started at nice 5, or under {@code SCHED_BATCH}, keeps that for its compiler
     * threads, and an unprivileged process is never refused for lowering a nice value.
     */
    private static boolean trySlice(MethodHandle syscall, int tid, MemorySegment attr, int nice, int sliceMicros) {
        try {
            attr.fill((byte) 0);
            if ((long) syscall.invokeExact(GETATTR, (long) tid, attr, (long) ATTR_SIZE, 0L) != 0) {
                LOG.log(System.Logger.Level.DEBUG, "sched_getattr({0}) failed", tid);
                return false;
            }
            attr.set(ValueLayout.JAVA_INT, 0, ATTR_SIZE); // size
            attr.set(ValueLayout.JAVA_LONG, 8, attr.get(ValueLayout.JAVA_LONG, 8) & RESET_ON_FORK); // sched_flags
            attr.set(ValueLayout.JAVA_INT, 16, Math.max(attr.get(ValueLayout.JAVA_INT, 16), nice)); // sched_nice
            attr.set(ValueLayout.JAVA_LONG, 24, sliceMicros * 1000L); // sched_runtime: the slice, in ns
            if ((long) syscall.invokeExact(SETATTR, (long) tid, attr, 0L, 0L) == 0) {
                return true;
            }
            LOG.log(System.Logger.Level.DEBUG, "sched_setattr({0}) failed", tid);
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.DEBUG, "sched_setattr unavailable: " + t);
        }
        return false;
    }

    private static boolean compiler(Path task) {
        try {
            String name = Files.readString(task.resolve("comm")).strip();
            return name.startsWith(C1) || name.startsWith(C2);
        } catch (IOException e) {
            return false; // the thread ended meanwhile
        }
    }

    private static void setPriority(MethodHandle call, int tid, int nice) {
        try {
            if ((int) call.invokeExact(PRIO_PROCESS, tid, nice) != 0) {
                LOG.log(System.Logger.Level.DEBUG, "setpriority({0}, {1}) failed", tid, nice);
            }
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.DEBUG, "setpriority unavailable: " + t);
        }
    }
}
