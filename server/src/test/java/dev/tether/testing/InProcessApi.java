package dev.tether.testing;

import dev.tether.config.ServerConfig;
import dev.tether.http.EventLoops;
import dev.tether.http.HttpApi;
import dev.tether.inference.ModelBackend;
import dev.tether.metrics.Metrics;
import dev.tether.responses.ResponseService;
import dev.tether.responses.ResponseSettings;
import dev.tether.session.SessionService;
import dev.tether.store.StreamStore;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import java.net.URI;
import java.time.InstantSource;

/**
 * The HTTP API in this JVM over a store the test chooses, wired as {@code TetherServer} wires it
 * (event loops, engine, responses, sessions), for tests that reach inside: a model backend that
 * records where it runs, a clock the test moves, a store that holds its flushes. Closes all of it.
 */
public final class InProcessApi implements AutoCloseable {
    private final EventLoops loops;
    private final StreamEngine engine;
    private final ResponseService responses;
    private final SessionService sessions;
    private final HttpApi http;

    private InProcessApi(
            EventLoops loops, StreamEngine engine, ResponseService responses, SessionService sessions, HttpApi http) {
        this.loops = loops;
        this.engine = engine;
        this.responses = responses;
        this.sessions = sessions;
        this.http = http;
    }

    /**
     * @param backend the model backend, or null for none
     * @param clock the HTTP API's clock (the engine and services run on the system clock)
     * @param eventLoops how many event loops
     */
    public static InProcessApi start(StreamStore store, ModelBackend backend, InstantSource clock, int eventLoops)
            throws Exception {
        Metrics metrics = new Metrics();
        ServerConfig config = ServerConfig.builder()
                .port(0)
                .store(ServerConfig.StoreKind.MEMORY)
                .build();
        EventLoops loops = EventLoops.start(eventLoops);
        StreamEngine engine = null;
        ResponseService responses = null;
        SessionService sessions = null;
        try {
            engine = new StreamEngine(store, InstantSource.system(), EngineSettings.defaults());
            responses =
                    new ResponseService(engine, backend, InstantSource.system(), ResponseSettings.defaults(), metrics);
            sessions = new SessionService(engine, responses, InstantSource.system(), metrics);
            sessions.start();
            HttpApi http = HttpApi.start(loops, engine, responses, sessions, config, clock, null, metrics, null);
            return new InProcessApi(loops, engine, responses, sessions, http);
        } catch (Exception | Error e) {
            close(null, sessions, responses, engine, loops);
            throw e;
        }
    }

    public EventLoops loops() {
        return loops;
    }

    public SessionService sessions() {
        return sessions;
    }

    /** {@code path} on this server, as {@code http://127.0.0.1:PORT/path}. */
    public URI uri(String path) {
        return URI.create("http://127.0.0.1:" + http.port() + path);
    }

    @Override
    public void close() {
        close(http, sessions, responses, engine, loops);
    }

    private static void close(
            HttpApi http, SessionService sessions, ResponseService responses, StreamEngine engine, EventLoops loops) {
        try {
            if (http != null) {
                http.close();
            }
            if (sessions != null) {
                sessions.close();
            }
            if (responses != null) {
                responses.close();
            }
            if (engine != null) {
                engine.close();
            }
        } finally {
            loops.close();
        }
    }
}
