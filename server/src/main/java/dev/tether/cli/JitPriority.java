package dev.tether.cli;

import dev.tether.os.Libc;
import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Lowers the CPU priority (raises the nice value) of the JVM's JIT compiler threads when {@code
 * --jit-nice} asks for it, so that on a busy core a request's thread runs before a compilation
 * does, and the compiler gets the time the server leaves idle.
 *
 * <p>What it buys: the JIT compiles a path when it turns hot, and on a small machine that is when
 * the server needs the core. With the server on one core and the JIT at nice 19, the SSE delivery
 * p99 right after an append phase was lower in nine pairs of eleven (docs/benchmarks.md).
 *
 * <p>Why it is off by default: while the core stays saturated the JIT gets about 1.5% of it at
 * nice 19, so code stays in its profiled tiers. A fresh server pinned to one core and saturated
 * from its start with empty POSTs did 65–72 k requests/s for a whole minute at nice 19, against
 * 137–147 k at nice 0 after its first 10 s. Use it where the cores have headroom.
 *
 * <p>Raising one's own nice value needs no privilege, but lowering it again does, so it is set
 * once, at start. A compiler thread the JVM adds later is started by a compiler thread, and
 * inherits its nice value. Elsewhere than on Linux, or when {@code setpriority} fails, nothing
 * changes.
 *
 * <p>Thread-safety: stateless; {@link #lower} may be called from any thread.
 */
@SuppressWarnings("restricted") // one libc call per compiler thread; the launcher enables native access
final class JitPriority {
    private static final System.Logger LOG = System.getLogger(JitPriority.class.getName());
    /** Thread names as the kernel shows them ({@code comm}, cut at 15 characters). */
    private static final String C1 = "C1 CompilerThre", C2 = "C2 CompilerThre";

    private static final int PRIO_PROCESS = 0; // <sys/resource.h>; with a thread id it names that thread

    private JitPriority() {}

    /** Sets every compiler thread of this process to {@code nice}; nothing when it is 0 or the platform does not allow it. */
    static void lower(int nice) {
        MethodHandle setPriority = nice == 0
                ? null
                : Libc.linux(
                        "setpriority",
                        FunctionDescriptor.of(
                                ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_INT));
        if (setPriority == null) {
            return;
        }
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : tasks.toList()) {
                if (compiler(task)) {
                    set(setPriority, Integer.parseInt(task.getFileName().toString()), nice);
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "compiler threads not found: " + e);
        }
    }

    private static boolean compiler(Path task) {
        try {
            String name = Files.readString(task.resolve("comm")).strip();
            return name.startsWith(C1) || name.startsWith(C2);
        } catch (IOException e) {
            return false; // the thread ended meanwhile
        }
    }

    private static void set(MethodHandle setPriority, int tid, int nice) {
        try {
            if ((int) setPriority.invokeExact(PRIO_PROCESS, tid, nice) != 0) {
                LOG.log(System.Logger.Level.DEBUG, "setpriority({0}, {1}) failed", tid, nice);
            }
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.DEBUG, "setpriority unavailable: " + t);
        }
    }
}
