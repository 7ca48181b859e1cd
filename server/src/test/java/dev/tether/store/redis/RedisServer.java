package dev.tether.store.redis;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real redis-server for tests (Debian's, installed by {@code scripts/lib/redis.sh}): its own
 * port, its own data directory, AOF with an fsync per write. Stopped by PID (or killed, to test
 * what survives).
 */
final class RedisServer implements AutoCloseable {
    private final Path dir;
    private final int port;
    private Process process;

    RedisServer(Path dir) throws IOException {
        this.dir = dir;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        start();
    }

    String uri() {
        return "redis://127.0.0.1:" + port;
    }

    void start() throws IOException {
        String binary = System.getenv().getOrDefault("REDIS_SERVER", "redis-server");
        Files.createDirectories(dir);
        try {
            process = new ProcessBuilder(List.of(
                            binary,
                            "--port",
                            Integer.toString(port),
                            "--bind",
                            "127.0.0.1",
                            "--dir",
                            dir.toString(),
                            "--appendonly",
                            "yes",
                            "--appendfsync",
                            "always",
                            "--save",
                            "",
                            "--daemonize",
                            "no"))
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("redis.log").toFile())
                    .start();
        } catch (IOException e) {
            throw new IOException(
                    "cannot start " + binary + " (install it: apt-get install redis-server, or run ./tether test,"
                            + " which does): " + e.getMessage(),
                    e);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            try (Socket _ = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException notYet) {
                if (!process.isAlive()) {
                    throw new IOException("redis-server exited: " + Files.readString(dir.resolve("redis.log")));
                }
                sleep(20);
            }
        }
        throw new IOException("redis-server did not listen on " + port + " within 10 s");
    }

    /** kill -9: nothing gets flushed on the way out. */
    void kill() {
        process.destroyForcibly();
        await();
    }

    @Override
    public void close() {
        process.destroy();
        if (!await()) {
            kill();
        }
    }

    private boolean await() {
        try {
            return process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
