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

    /** A builder holding the defaults; the CLI and tests change what they need. */
    public static Builder builder() {
        return new Builder();
    }

    /** Collects settings; {@link #build()} validates them. Not thread-safe. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = DEFAULT_PORT;
        private Path dataDir = Path.of("data");
        private StoreKind store = StoreKind.SQLITE;
        private Duration longPollTimeout = Duration.ofSeconds(30);
        private long maxBodyBytes = 16L * 1024 * 1024;
        private Duration sseMaxLifetime = Duration.ofSeconds(60);
        private Duration slowConsumerTimeout = Duration.ofSeconds(10);
        private Long maxStoreBytes;
        private int eventLoops = Math.max(1, Runtime.getRuntime().availableProcessors());
        private long retainBytes;

        private Builder() {}

        public Builder host(String value) {
            host = value;
            return this;
        }

        public Builder port(int value) {
            port = value;
            return this;
        }

        public Builder dataDir(Path value) {
            dataDir = value;
            return this;
        }

        public Builder store(StoreKind value) {
            store = value;
            return this;
        }

        public Builder longPollTimeout(Duration value) {
            longPollTimeout = value;
            return this;
        }

        public Builder maxBodyBytes(long value) {
            maxBodyBytes = value;
            return this;
        }

        public Builder sseMaxLifetime(Duration value) {
            sseMaxLifetime = value;
            return this;
        }

        public Builder slowConsumerTimeout(Duration value) {
            slowConsumerTimeout = value;
            return this;
        }

        public Builder maxStoreBytes(Long value) {
            maxStoreBytes = value;
            return this;
        }

        public Builder eventLoops(int value) {
            eventLoops = value;
            return this;
        }

        public Builder retainBytes(long value) {
            retainBytes = value;
            return this;
        }

        public ServerConfig build() {
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
                    retainBytes);
        }
    }
}
