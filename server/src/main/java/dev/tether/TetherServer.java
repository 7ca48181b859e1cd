package dev.tether;

import dev.tether.config.ServerConfig;
import dev.tether.http.HttpApi;
import dev.tether.store.StoreException;
import dev.tether.store.StreamStore;
import dev.tether.store.memory.MemoryStreamStore;
import dev.tether.store.sqlite.SqliteStreamStore;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import java.time.InstantSource;

/**
 * A running Tether node: store, engine and HTTP API, wired by hand. Closing it stops HTTP
 * first (in-flight requests drain), then commits what the writer still holds, then closes the store.
 *
 * <p>Thread-safe; {@link #close()} is idempotent.
 */
public final class TetherServer implements AutoCloseable {
    private final StreamEngine engine;
    private final HttpApi http;
    private boolean closed;

    private TetherServer(StreamEngine engine, HttpApi http) {
        this.engine = engine;
        this.http = http;
    }

    public static TetherServer start(ServerConfig config) throws Exception {
        InstantSource clock = InstantSource.system();
        StreamEngine engine = new StreamEngine(
                openStore(config), clock, EngineSettings.defaults().withRetainBytes(config.retainBytes()));
        try {
            return new TetherServer(engine, HttpApi.start(engine, config, clock));
        } catch (Exception e) {
            engine.close();
            throw e;
        }
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
        engine.close();
    }
}
