package dev.tether.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
 * thread at the priority it started with; without the flag, nothing changes. Read from the server process's
 * {@code /proc/PID/task/*}, so Linux only.
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
        try (ServerProcess server = ServerProcess.start(dir.resolve("five"), "--jit-nice", "5")) {
            Map<String, Integer> nice = niceByThread(server.pid());
            compilers(nice).forEach((name, value) -> assertEquals(5, value, name + " in " + nice));
        }
    }

    private static Map<String, Integer> compilers(Map<String, Integer> nice) {
        Map<String, Integer> out = new TreeMap<>(nice);
        out.keySet().removeIf(name -> !name.contains("CompilerThre"));
        return out;
    }

    private static Map<String, Integer> others(Map<String, Integer> nice) {
        Map<String, Integer> out = new TreeMap<>(nice);
        out.keySet().removeIf(name -> name.contains("CompilerThre"));
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
