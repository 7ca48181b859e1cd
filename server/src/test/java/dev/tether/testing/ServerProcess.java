package dev.tether.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The server as a child JVM ({@code dev.tether.Main serve}) on a free loopback port, for tests
 * that must kill it the way an operator or the kernel would: {@link #kill()} is SIGKILL, so no
 * shutdown hook, no flush, no close.
 *
 * <p>The child runs on the test JVM's own class path (surefire has {@code useManifestOnlyJar}
 * off, so {@code java.class.path} lists every entry). Its stdout and stderr, where the server
 * logs, go to one file next to the data directory, readable with {@link #output()} when a test
 * fails.
 *
 * <p>Not thread-safe: owned by the test thread that started it.
 */
public final class ServerProcess implements AutoCloseable {
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);
    /** The one line {@code Cli} prints on stdout once the port is bound. */
    private static final Pattern READY =
            Pattern.compile("^Tether listening on http://(\\S+):(\\d+) \\(data: ", Pattern.MULTILINE);

    private final Process process;
    private final Path log;
    private final int port;

    private ServerProcess(Process process, Path log, int port) {
        this.process = process;
        this.log = log;
        this.port = port;
    }

    /**
     * Starts {@code tether serve} on port 0 with {@code dataDir} and a 500 ms long-poll timeout,
     * and waits until it is listening. {@code extraArgs} come last, so they can override those.
     *
     * @throws IllegalStateException if the server exits or is not listening within 30 s; the
     *     message carries its output
     */
    public static ServerProcess start(Path dataDir, String... extraArgs) throws IOException, InterruptedException {
        return start(dataDir, List.of(), extraArgs);
    }

    /**
     * Like {@link #start(Path, String...)}, with JVM options (such as {@code -Xmx160m}) before the
     * main class.
     */
    public static ServerProcess start(Path dataDir, List<String> jvmOptions, String... extraArgs)
            throws IOException, InterruptedException {
        Path parent = dataDir.toAbsolutePath().getParent();
        Path log = Files.createTempFile(parent, "tether-server-", ".log");
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                // As the launcher does: a JVM out of heap exits (a supervisor restarts it) instead of
                // living on with dead threads.
                "-XX:+ExitOnOutOfMemoryError",
                // sqlite-jdbc loads its native library; Netty reaches for sun.misc.Unsafe.
                "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow"));
        command.addAll(jvmOptions);
        command.addAll(List.of(
                "-cp",
                System.getProperty("java.class.path"),
                "dev.tether.Main",
                "serve",
                "--port",
                "0",
                "--data-dir",
                dataDir.toAbsolutePath().toString(),
                "--long-poll-timeout",
                "500ms"));
        command.addAll(List.of(extraArgs));
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        try {
            return new ServerProcess(process, log, awaitPort(process, log));
        } catch (RuntimeException | InterruptedException e) {
            process.destroyForcibly().waitFor();
            throw e;
        }
    }

    private static int awaitPort(Process process, Path log) throws InterruptedException {
        long deadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
        while (true) {
            Matcher ready = READY.matcher(read(log));
            if (ready.find()) {
                return Integer.parseInt(ready.group(2));
            }
            if (!process.isAlive()) {
                throw new IllegalStateException("the server exited with " + process.exitValue()
                        + " before it was listening; its output:\n" + read(log));
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException(
                        "the server was not listening after " + STARTUP_TIMEOUT + "; its output:\n" + read(log));
            }
            Thread.sleep(20);
        }
    }

    private static String read(Path log) {
        try {
            return new String(Files.readAllBytes(log), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() {
        return port;
    }

    /** {@code http://127.0.0.1:<port>}, without a trailing slash. */
    public URI base() {
        return URI.create("http://127.0.0.1:" + port);
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL, then waits until the process is gone. Does nothing if it already is. */
    public void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    /**
     * SIGTERM (the shutdown hook finishes in-flight writes), waiting up to 20 s.
     *
     * @return the exit code (143 when the JVM ends on SIGTERM)
     * @throws IllegalStateException if the server is still running after 20 s; it is killed first
     */
    public int stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
            kill();
            throw new IllegalStateException(
                    "the server did not stop within " + STOP_TIMEOUT + " of SIGTERM; its output:\n" + output());
        }
        return process.exitValue();
    }

    /** Everything the server wrote to stdout and stderr so far. */
    public String output() {
        return read(log);
    }

    /** The file holding {@link #output()}. */
    public Path log() {
        return log;
    }

    /**
     * Kills the server if it is still running. Does not wait when interrupted (the interrupt
     * stays set), so a timed-out test still gets its cleanup.
     */
    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
