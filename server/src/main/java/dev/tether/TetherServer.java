package dev.tether;

import dev.tether.auth.AuthConfig;
import dev.tether.auth.Authenticator;
import dev.tether.cluster.OwnerLease;
import dev.tether.config.ServerConfig;
import dev.tether.http.EventLoops;
import dev.tether.http.HttpApi;
import dev.tether.http.UpstreamClient;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.embedded.EmbeddedBackend;
import dev.tether.inference.embedded.EmbeddedSettings;
import dev.tether.inference.embedded.gguf.DemoModel;
import dev.tether.inference.upstream.UpstreamBackend;
import dev.tether.inference.upstream.UpstreamSettings;
import dev.tether.metrics.Metrics;
import dev.tether.responses.ResponseService;
import dev.tether.responses.ResponseSettings;
import dev.tether.session.SessionService;
import dev.tether.store.SharedStreamStore;
import dev.tether.store.StoreException;
import dev.tether.store.StreamStore;
import dev.tether.store.log.LogStreamStore;
import dev.tether.store.memory.MemoryStreamStore;
import dev.tether.store.redis.RedisStreamStore;
import dev.tether.store.sqlite.SqliteStreamStore;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A running Tether node: event loops, store, engine and HTTP API, wired by hand. Closing it stops
 * HTTP first (in-flight requests drain), then commits what the writer still holds, then closes the
 * store, and the event loops last.
 *
 * <p>Thread-safe; {@link #close()} is idempotent.
 */
public final class TetherServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(TetherServer.class.getName());
    private final StreamEngine engine;
    private final ResponseService responses;
    private final SessionService sessions;
    private final HttpApi http;
    private final EventLoops loops;
    /** Cluster mode: the lease on the sessions, or null on one node. */
    private final OwnerLease owner;

    private boolean closed;

    private TetherServer(
            EventLoops loops,
            StreamEngine engine,
            ResponseService responses,
            SessionService sessions,
            OwnerLease owner,
            HttpApi http) {
        this.loops = loops;
        this.engine = engine;
        this.responses = responses;
        this.sessions = sessions;
        this.owner = owner;
        this.http = http;
    }

    /**
     * The URL other nodes forward to: {@code http://HOST:PORT} of the bound address, or of this
     * machine's name when bound to every interface.
     */
    private static String selfUrl(ServerConfig config, int port) throws java.net.UnknownHostException {
        String host = config.host();
        if (host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]")) {
            host = java.net.InetAddress.getLocalHost().getHostName();
        }
        return "http://" + host + ":" + port;
    }

    public static TetherServer start(ServerConfig config) throws Exception {
        InstantSource clock = InstantSource.system();
        Metrics metrics = new Metrics();
        if (config.authConfig() != null) {
            AuthConfig.load(config.authConfig()); // a bad file fails the start before anything is opened
        }
        // A bad -Dtether.transport fails here too, before the store is opened.
        EventLoops loops = EventLoops.start(config.eventLoops());
        try {
            return start(config, clock, metrics, loops);
        } catch (Exception | Error e) {
            loops.close();
            throw e;
        }
    }

    private static TetherServer start(ServerConfig config, InstantSource clock, Metrics metrics, EventLoops loops)
            throws Exception {
        EngineSettings engineSettings = EngineSettings.defaults().withRetainBytes(config.retainBytes());
        if (config.maxMemoryBytes() > 0) {
            engineSettings = engineSettings.withMaxMemoryBytes(config.maxMemoryBytes());
        }
        if (config.recentWindowBytes() != null) {
            engineSettings = engineSettings.withRecentWindowBytes(config.recentWindowBytes());
        }
        long opening = System.nanoTime();
        StreamStore store = openStore(config);
        StreamEngine engine = new StreamEngine(store, clock, engineSettings, metrics.engineObserver());
        metrics.store(store, config.maxStoreBytes() == null ? 0 : config.maxStoreBytes(), System.nanoTime() - opening);
        if (store instanceof LogStreamStore log) {
            metrics.logStore(log, LogStreamStore::segmentCount, LogStreamStore::indexFileBytes);
        }
        metrics.memory(engine.memory());
        ModelBackend backend;
        try {
            backend = backend(config, metrics, clock, loops);
        } catch (Exception e) {
            engine.close();
            throw e;
        }
        ResponseService responses = new ResponseService(
                engine, backend, clock, ResponseSettings.defaults().withTtl(config.responseTtl()), metrics);
        SessionService sessions = new SessionService(engine, responses, clock, metrics);
        AtomicReference<OwnerLease> owner = new AtomicReference<>();
        HttpApi http = null;
        try {
            Authenticator authenticator =
                    config.authConfig() == null ? null : new Authenticator(AuthConfig.load(config.authConfig()), clock);
            if (!(store instanceof SharedStreamStore shared)) {
                sessions.start(); // loads every session, ending the runs a crash interrupted
                http = HttpApi.start(loops, engine, responses, sessions, config, clock, authenticator, metrics, null);
                return new TetherServer(loops, engine, responses, sessions, null, http);
            }
            // Cluster mode: the node holding the owner lease runs the sessions; the others forward to it.
            http = HttpApi.start(loops, engine, responses, sessions, config, clock, authenticator, metrics, () -> {
                OwnerLease lease = owner.get();
                return lease == null ? new OwnerLease.Route.Unavailable("this node is starting") : lease.route();
            });
            owner.set(new OwnerLease(shared, selfUrl(config, http.port()), clock, sessions::start, () -> {
                LOG.log(
                        System.Logger.Level.ERROR,
                        "stopping: this node's sessions are stale now that another node owns them; restart it to"
                                + " rejoin the cluster");
                System.exit(75);
            }));
            owner.get().start();
            return new TetherServer(loops, engine, responses, sessions, owner.get(), http);
        } catch (Exception e) {
            if (http != null) {
                http.close(); // first: no request may reach what closes next
            }
            if (owner.get() != null) {
                owner.get().close();
            }
            sessions.close();
            responses.close();
            engine.close();
            throw e;
        }
    }

    /**
     * The model backend: the configured upstreams, the embedded engine on {@code --model}, the
     * generated demo model when neither is given (if enabled), or none.
     */
    private static ModelBackend backend(ServerConfig config, Metrics metrics, InstantSource clock, EventLoops loops)
            throws Exception {
        if (config.upstreams().isEmpty()) {
            return embedded(config, metrics, clock);
        }
        UpstreamSettings settings = new UpstreamSettings(
                config.upstreams(),
                Duration.ofSeconds(10),
                config.upstreamTimeout(),
                config.upstreamTimeout(),
                config.upstreamApiKey(),
                config.upstreamModel());
        UpstreamClient transport = UpstreamClient.create(loops, settings.connectTimeout());
        metrics.connections("upstream", transport, UpstreamClient::openConnections);
        return new UpstreamBackend(settings, transport, metrics);
    }

    private static ModelBackend embedded(ServerConfig config, Metrics metrics, InstantSource clock) throws Exception {
        Path model = config.model();
        boolean demo = model == null;
        if (demo) {
            if (!config.demoModel()) {
                return null;
            }
            model = config.dataDir().resolve("models").resolve("demo-small.gguf");
            if (!Files.exists(model)) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "no --model or --upstream given: generating a small random-weight demo model at {0}",
                        model);
                DemoModel.generate(model, DemoModel.DEMO_SIZE, DemoModel.DEMO_SEED);
            }
            LOG.log(
                    System.Logger.Level.WARNING,
                    "serving the DEMO MODEL {0}: its output is random text. Pass --model FILE.gguf for a real model"
                            + " or --upstream URL for an OpenAI-compatible server.",
                    model);
        }
        // Spilled KV state is session data: the in-memory store promises that none reaches disk.
        Path spill = config.store() == ServerConfig.StoreKind.MEMORY
                ? null
                : config.dataDir().resolve("kv");
        EmbeddedSettings settings = EmbeddedSettings.of(model, demo, spill)
                .withKvBudget(config.kvBudgetBytes())
                .withSessionContext(config.sessionContext())
                .withKvDiskBudget(config.kvDiskBudgetBytes())
                .withGroups(config.engineGroups())
                // A spill file outlives no response it could serve: it expires with them.
                .withSpillTtl(config.responseTtl());
        EmbeddedBackend engine = EmbeddedBackend.start(settings, clock);
        metrics.kvBytes("resident", engine, EmbeddedBackend::residentKvBytes);
        metrics.kvBytes("spilled", engine, EmbeddedBackend::spilledKvBytes);
        metrics.engineQueue(engine, EmbeddedBackend::waitingTurns);
        return engine;
    }

    public String backendDescription() {
        return responses.backendDescription();
    }

    private static StreamStore openStore(ServerConfig config) throws StoreException {
        return switch (config.store()) {
            case SQLITE -> SqliteStreamStore.open(config.dataDir(), config.maxStoreBytes());
            case MEMORY -> new MemoryStreamStore();
            case LOG -> LogStreamStore.open(config.dataDir(), config.maxStoreBytes(), config.logPreallocate());
            case REDIS ->
                RedisStreamStore.open(
                        config.redisUrl(),
                        "tether:",
                        config.nodeId() != null
                                ? config.nodeId()
                                : java.util.UUID.randomUUID().toString().substring(0, 8),
                        false,
                        config.redisReplicas());
        };
    }

    public int port() {
        return http.port();
    }

    public String storeDescription() {
        return engine.storeDescription();
    }

    /** The stream engine under the HTTP API (for embedders and tests). */
    public StreamEngine streams() {
        return engine;
    }

    /** The network transport under the event loops: {@code epoll} or {@code nio}. */
    public String transport() {
        return loops.transport();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (owner != null) {
                owner.close();
            }
            http.close();
            sessions.close();
            responses.close();
            engine.close();
        } finally {
            loops.close(); // whatever failed above, no event-loop thread outlives the server
        }
    }
}
