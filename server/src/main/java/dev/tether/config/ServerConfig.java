package dev.tether.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Everything {@code tether serve} is configured with.
 *
 * @param host                where to listen (loopback by default)
 * @param port                the port, 0 for any free one
 * @param dataDir             where the embedded store keeps its files
 * @param store               which store backs the streams
 * @param longPollTimeout     how long a long-poll waits for data before answering 204
 * @param maxBodyBytes        the largest request body accepted (413 above)
 * @param sseMaxLifetime      SSE connections are closed after this long so CDNs can collapse (§5.8)
 * @param slowConsumerTimeout a reader whose socket stays full this long is disconnected
 * @param maxStoreBytes       optional cap on the database size (writes beyond it get 503)
 * @param eventLoops          HTTP event-loop threads
 * @param retainBytes         per-stream retention in bytes (older messages are dropped); 0 keeps all
 */
public record ServerConfig(
        String host,
        int port,
        Path dataDir,
        StoreKind store,
        Duration longPollTimeout,
        long maxBodyBytes,
        Duration sseMaxLifetime,
        Duration slowConsumerTimeout,
        Long maxStoreBytes,
        int eventLoops,
        long retainBytes) {

    public static final int DEFAULT_PORT = 4437;

    public ServerConfig {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(store, "store");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be between 0 and 65535, got " + port);
        }
        if (longPollTimeout.isNegative() || longPollTimeout.isZero()) {
            throw new IllegalArgumentException("the long-poll timeout must be positive");
        }
        if (retainBytes < 0) {
            throw new IllegalArgumentException("retention must not be negative");
        }
        if (maxBodyBytes < 1 || eventLoops < 1) {
            throw new IllegalArgumentException("max body and event loops must be positive");
        }
    }

    /** Which {@code StreamStore} to run on. */
    public enum StoreKind {
        SQLITE,
        MEMORY
    }

    public static ServerConfig defaults() {
        return new ServerConfig(
                "127.0.0.1",
                DEFAULT_PORT,
                Path.of("data"),
                StoreKind.SQLITE,
                Duration.ofSeconds(30),
                16L * 1024 * 1024,
                Duration.ofSeconds(60),
                Duration.ofSeconds(10),
                null,
                Math.max(1, Runtime.getRuntime().availableProcessors()),
                0);
    }

    public ServerConfig withPort(int p) {
        return new ServerConfig(
                host,
                p,
                dataDir,
                store,
                longPollTimeout,
                maxBodyBytes,
                sseMaxLifetime,
                slowConsumerTimeout,
                maxStoreBytes,
                eventLoops,
                retainBytes);
    }

    public ServerConfig withDataDir(Path dir) {
        return new ServerConfig(
                host,
                port,
                dir,
                store,
                longPollTimeout,
                maxBodyBytes,
                sseMaxLifetime,
                slowConsumerTimeout,
                maxStoreBytes,
                eventLoops,
                retainBytes);
    }

    public ServerConfig withLongPollTimeout(Duration d) {
        return new ServerConfig(
                host,
                port,
                dataDir,
                store,
                d,
                maxBodyBytes,
                sseMaxLifetime,
                slowConsumerTimeout,
                maxStoreBytes,
                eventLoops,
                retainBytes);
    }

    public ServerConfig withHost(String h) {
        return new ServerConfig(
                h,
                port,
                dataDir,
                store,
                longPollTimeout,
                maxBodyBytes,
                sseMaxLifetime,
                slowConsumerTimeout,
                maxStoreBytes,
                eventLoops,
                retainBytes);
    }

    public ServerConfig withStore(StoreKind kind) {
        return new ServerConfig(
                host,
                port,
                dataDir,
                kind,
                longPollTimeout,
                maxBodyBytes,
                sseMaxLifetime,
                slowConsumerTimeout,
                maxStoreBytes,
                eventLoops,
                retainBytes);
    }

    public ServerConfig withMaxBodyBytes(long bytes) {
        return new ServerConfig(
                host,
                port,
                dataDir,
                store,
                longPollTimeout,
                bytes,
                sseMaxLifetime,
                slowConsumerTimeout,
                maxStoreBytes,
                eventLoops,
                retainBytes);
    }

    public ServerConfig withSseMaxLifetime(Duration d) {
        return new ServerConfig(
                host,
                port,
                dataDir,
                store,
                longPollTimeout,
                maxBodyBytes,
                d,
                slowConsumerTimeout,
                maxStoreBytes,
                eventLoops,
                retainBytes);
    }

    public ServerConfig withSlowConsumerTimeout(Duration d) {
        return new ServerConfig(
                host,
                port,
                dataDir,
                store,
                longPollTimeout,
                maxBodyBytes,
                sseMaxLifetime,
                d,
                maxStoreBytes,
                eventLoops,
                retainBytes);
    }

    public ServerConfig withEventLoops(int n) {
        return new ServerConfig(
                host,
                port,
                dataDir,
                store,
                longPollTimeout,
                maxBodyBytes,
                sseMaxLifetime,
                slowConsumerTimeout,
                maxStoreBytes,
                n,
                retainBytes);
    }

    public ServerConfig withRetainBytes(long bytes) {
        return new ServerConfig(
                host,
                port,
                dataDir,
                store,
                longPollTimeout,
                maxBodyBytes,
                sseMaxLifetime,
                slowConsumerTimeout,
                maxStoreBytes,
                eventLoops,
                bytes);
    }

    public ServerConfig withMaxStoreBytes(Long bytes) {
        return new ServerConfig(
                host,
                port,
                dataDir,
                store,
                longPollTimeout,
                maxBodyBytes,
                sseMaxLifetime,
                slowConsumerTimeout,
                bytes,
                eventLoops,
                retainBytes);
    }
}
