package dev.tether.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tether.testing.ServerProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tether serve --jit-nice N} runs the JVM's JIT compiler threads at nice N and every other
 * thread at the priority it started with; without the flag, nothing changes. The compiler threads
 * ask for a 0.1 ms time slice by default ({@code --jit-slice-us}), and no other thread does; every
 * thread stays under {@code SCHED_OTHER}. Read from the server process's {@code /proc/PID/task/*}, so Linux only
 * (the slice: 6.12 and later).
 */
class JitPriorityTest {
    @TempDir
    Path dir;

    @Test
    @Timeout(90)
    void compilerThreadsRunAtTheNiceValueAndNothingElseDoes() throws Exception {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/task")), "needs Linux's /proc");
        long self = ProcessHandle.current().pid();
        assumeTrue(niceByThread(self).get("java " + self) == 0, "the tests run at nice 0, so the server starts there");
        try (ServerProcess server = ServerProcess.start(dir.resolve("default"))) {
            Map<String, Integer> nice = niceByThread(server.pid());
            nice.forEach((name, value) -> assertEquals(0, value, name + " by default: " + nice));
        }
        try (ServerProcess server = ServerProcess.start(dir.resolve("nineteen"), "--jit-nice", "19")) {
            Map<String, Integer> nice = niceByThread(server.pid());
            assertFalse(compilers(nice).isEmpty(), "the JVM has compiler threads: " + nice);
            compilers(nice).forEach((name, value) -> assertEquals(19, value, name + " in " + nice));
            others(nice).forEach((name, value) -> assertEquals(0, value, name + " in " + nice));
        }
        // without a slice the nice value takes the other call (setpriority)
        try (ServerProcess server =
                ServerProcess.start(dir.resolve("five"), "--jit-nice", "5", "--jit-slice-us", "0")) {
            Map<String, Integer> nice = niceByThread(server.pid());
            assertFalse(compilers(nice).isEmpty(), "the JVM has compiler threads: " + nice);
            compilers(nice).forEach((name, value) -> assertEquals(5, value, name + " in " + nice));
            others(nice).forEach((name, value) -> assertEquals(0, value, name + " in " + nice));
        }
    }

    @Test
    @Timeout(90)
    void compilerThreadsAskForAShortSliceAndNoOtherThreadDoes() throws Exception {
        long self = ProcessHandle.current().pid();
        Map<String, Long> own = sched(self, "se.slice");
        assumeTrue(!own.isEmpty() && own.values().stream().allMatch(v -> v > 0), "needs se.slice in /proc");
        assumeTrue(niceByThread(self).get("java " + self) == 0, "the tests run at nice 0, so the server starts there");
        String[] version = System.getProperty("os.version", "0.0").split("[.-]");
        assumeTrue(
                Integer.parseInt(version[0]) * 100 + Integer.parseInt(version[1]) >= 612,
                "custom slices came with Linux 6.12");
        try (ServerProcess server = ServerProcess.start(dir.resolve("default"))) {
            Map<String, Long> slice = sched(server.pid(), "se.slice");
            assertFalse(compilers(slice).isEmpty(), "the JVM has compiler threads: " + slice);
            compilers(slice).forEach((name, value) -> assertEquals(100_000L, value, name + " in " + slice));
            others(slice).forEach((name, value) -> assertNotEquals(100_000L, value, name + " in " + slice));
            Map<String, Long> policy = sched(server.pid(), "policy");
            policy.forEach((name, value) -> assertEquals(0L, value, name + " is SCHED_OTHER: " + policy));
        }
        try (ServerProcess server = ServerProcess.start(dir.resolve("zero"), "--jit-slice-us", "0")) {
            Map<String, Long> slice = sched(server.pid(), "se.slice");
            long kernels = others(slice).values().iterator().next();
            slice.forEach((name, value) -> assertEquals(kernels, value, name + " with --jit-slice-us 0: " + slice));
            Map<String, Long> policy = sched(server.pid(), "policy");
            policy.forEach((name, value) -> assertEquals(0L, value, name + " with --jit-slice-us 0: " + policy));
        }
        try (ServerProcess server =
                ServerProcess.start(dir.resolve("both"), "--jit-slice-us", "2000", "--jit-nice", "7")) {
            Map<String, Long> slice = sched(server.pid(), "se.slice");
            Map<String, Integer> nice = niceByThread(server.pid());
            compilers(slice).forEach((name, value) -> assertEquals(2_000_000L, value, name + " in " + slice));
            compilers(nice).forEach((name, value) -> assertEquals(7, value, name + " in " + nice));
            others(nice).forEach((name, value) -> assertEquals(0, value, name + " in " + nice));
        }
    }

    private static <V> Map<String, V> compilers(Map<String, V> byThread) {
        Map<String, V> out = new TreeMap<>(byThread);
        out.keySet().removeIf(name -> !name.contains("CompilerThre"));
        return out;
    }

    private static <V> Map<String, V> others(Map<String, V> byThread) {
        Map<String, V> out = new TreeMap<>(byThread);
        out.keySet().removeIf(name -> name.contains("CompilerThre"));
        return out;
    }

    /**
     * Thread name and id → a field of its {@code sched} file ({@code se.slice}: its time slice in
     * ns; {@code policy}: 0 for {@code SCHED_OTHER}, 3 for {@code SCHED_BATCH}); -1 when not shown.
     */
    private static Map<String, Long> sched(long pid, String field) throws IOException {
        Map<String, Long> out = new TreeMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks.toList()) {
                try {
                    String name = Files.readString(task.resolve("comm")).strip();
                    long value = Files.readAllLines(task.resolve("sched")).stream()
                            .filter(line -> line.startsWith(field + " ") || line.startsWith(field + ":"))
                            .mapToLong(line -> Long.parseLong(
                                    line.substring(line.indexOf(':') + 1).strip()))
                            .findFirst()
                            .orElse(-1);
                    out.put(name + " " + task.getFileName(), value);
                } catch (IOException e) {
                    // the thread ended meanwhile
                }
            }
        }
        return out;
    }

    /** Thread name and id → its nice value (field 19 of {@code stat}, counted after the name). */
    private static Map<String, Integer> niceByThread(long pid) throws IOException {
        Map<String, Integer> out = new TreeMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks.toList()) {
                String stat;
                try {
                    stat = Files.readString(task.resolve("stat"));
                } catch (IOException e) {
                    continue; // the thread ended meanwhile
                }
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                String[] after = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                out.put(name + " " + task.getFileName(), Integer.parseInt(after[16]));
            }
        }
        return out;
    }
}
