package dev.tether;

import dev.tether.config.ServerConfig;
import dev.tether.http.HttpApi;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.upstream.UpstreamBackend;
import dev.tether.inference.upstream.UpstreamSettings;
import dev.tether.responses.ResponseService;
import dev.tether.responses.ResponseSettings;
import dev.tether.store.StoreException;
import dev.tether.store.StreamStore;
import dev.tether.store.memory.MemoryStreamStore;
import dev.tether.store.sqlite.SqliteStreamStore;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import java.time.Duration;
import java.time.InstantSource;

/**
 * A running Tether node: store, engine and HTTP API, wired by hand. Closing it stops HTTP
 * first (in-flight requests drain), then commits what the writer still holds, then closes the store.
 *
 * <p>Thread-safe; {@link #close()} is idempotent.
 */
public final class TetherServer implements AutoCloseable {
    private final StreamEngine engine;
    private final ResponseService responses;
    private final HttpApi http;
    private boolean closed;

    private TetherServer(StreamEngine engine, ResponseService responses, HttpApi http) {
        this.engine = engine;
        this.responses = responses;
        this.http = http;
    }

    public static TetherServer start(ServerConfig config) throws Exception {
        InstantSource clock = InstantSource.system();
        StreamEngine engine = new StreamEngine(
                openStore(config), clock, EngineSettings.defaults().withRetainBytes(config.retainBytes()));
        ResponseService responses = new ResponseService(engine, backend(config), clock, ResponseSettings.defaults());
        try {
            return new TetherServer(engine, responses, HttpApi.start(engine, responses, config, clock));
        } catch (Exception e) {
            responses.close();
            engine.close();
            throw e;
        }
    }

    /** The model backend: the configured upstreams, or none (the embedded engine comes later). */
    private static ModelBackend backend(ServerConfig config) {
        if (config.upstreams().isEmpty()) {
            return null;
        }
        return new UpstreamBackend(new UpstreamSettings(
                config.upstreams(),
                Duration.ofSeconds(10),
                config.upstreamTimeout(),
                config.upstreamTimeout(),
                config.upstreamApiKey(),
                config.upstreamModel()));
    }

    public String backendDescription() {
        return responses.backendDescription();
    }

    private static StreamStore openStore(ServerConfig config) throws StoreException {
        return switch (config.store()) {
            case SQLITE -> SqliteStreamStore.open(config.dataDir(), config.maxStoreBytes());
            case MEMORY -> new MemoryStreamStore();
        };
    }

    public int port() {
        return http.port();
    }

    public String storeDescription() {
        return engine.storeDescription();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        http.close();
        responses.close();
        engine.close();
    }
}
