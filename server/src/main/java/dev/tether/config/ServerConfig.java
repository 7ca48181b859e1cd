package dev.tether.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
 * @param sseKeepAlive        a caught-up SSE tail sends a control event after this long without one;
 *                            shorter than {@code sseMaxLifetime}
 * @param slowConsumerTimeout a reader whose socket stays full this long is disconnected
 * @param maxStoreBytes       optional cap on the database size (writes beyond it get 503)
 * @param logPreallocate      the log store zero-fills its next segment ahead of time
 * @param eventLoops          event-loop threads, for HTTP and the upstream client (default: {@link #defaultEventLoops})
 * @param retainBytes         per-stream retention in bytes (older messages are dropped); 0 keeps all
 * @param recentWindowBytes   per-stream bytes of recent messages kept in memory for live readers, or
 *                            null for the engine's default (8 KiB)
 * @param upstreams           OpenAI-compatible Chat Completions base URLs (replicas of one model)
 * @param upstreamModel       model name sent upstream instead of the client's, or null
 * @param upstreamApiKey      bearer token for the upstreams, or null
 * @param upstreamTimeout     the longest wait for an upstream's first byte, and between chunks
 * @param wsMaxAge            Responses WebSocket connections are closed after this long
 * @param wsCacheTtl          how long a WebSocket connection's cached response stays usable
 * @param model               a GGUF file for the embedded engine, or null
 * @param demoModel           with no model and no upstream, generate and serve a random-weight demo model
 * @param kvBudgetBytes       the embedded engine's KV-cache budget; 0 sizes it to the machine
 * @param sessionContext      most tokens one embedded session may hold; 0 for the model's own
 * @param authConfig          the {@code --auth-config} file (keys, JWT), or null for the open mode
 * @param insecureNoAuth      serve a non-loopback address without auth (explicitly unsafe)
 * @param corsOrigins         origins whose pages may call the server ({@code *} for any)
 * @param maxConnections      open connections at most; more are closed at once (0: from the fd limit)
 * @param headerTimeout       a new connection must send its request headers within this
 * @param idleTimeout         a keep-alive connection between requests is closed after this
 * @param bodyTimeout         a request body must have arrived this long after its headers
 * @param logFormat           text (one line per event) or json (one object per line)
 * @param responseTtl         stored responses and conversations expire after this long unused, or null
 * @param maxMemoryBytes      the engine's memory budget (bodies, queued writes, producers, recent
 *                            messages); 0 for half the JVM's maximum heap
 * @param kvDiskBudgetBytes   most bytes of spilled KV state under {@code <data-dir>/kv}; 0 for the engine's default
 * @param engineGroups        llama.cpp contexts the embedded engine splits its sessions into
 * @param webRoot             the built web app served at {@code /} (its {@code index.html} and files), or null
 * @param redisUrl            the Redis of {@code --store redis} ({@code redis://HOST:PORT}), else null
 * @param redisReplicas       replicas a Redis commit must reach ({@code WAIT}) before it is acknowledged
 * @param nodeId              this node's name among the nodes sharing that Redis (letters, digits,
 *                            {@code . _ -}), or null for a random one
 * @param jitNice             the nice value {@code tether serve} gives the JVM's JIT compiler
 *                            threads (0-19; 0 leaves them as they are)
 * @param jitSliceMicros      the time slice, in microseconds, {@code tether serve} asks Linux's
 *                            scheduler for on the JVM's JIT compiler threads (100-100000; 0 leaves
 *                            them at the kernel's default)
 */
public record ServerConfig(
        String host,
        int port,
        Path dataDir,
        StoreKind store,
        Duration longPollTimeout,
        long maxBodyBytes,
        Duration sseMaxLifetime,
        Duration sseKeepAlive,
        Duration slowConsumerTimeout,
        Long maxStoreBytes,
        boolean logPreallocate,
        int eventLoops,
        long retainBytes,
        Integer recentWindowBytes,
        List<URI> upstreams,
        String upstreamModel,
        String upstreamApiKey,
        Duration upstreamTimeout,
        Duration wsMaxAge,
        Duration wsCacheTtl,
        Path model,
        boolean demoModel,
        long kvBudgetBytes,
        int sessionContext,
        Path authConfig,
        boolean insecureNoAuth,
        List<String> corsOrigins,
        int maxConnections,
        Duration headerTimeout,
        Duration idleTimeout,
        Duration bodyTimeout,
        LogFormat logFormat,
        Duration responseTtl,
        long maxMemoryBytes,
        long kvDiskBudgetBytes,
        int engineGroups,
        Path webRoot,
        String redisUrl,
        int redisReplicas,
        String nodeId,
        int jitNice,
        int jitSliceMicros) {

    public static final int DEFAULT_PORT = 4437;
    /**
     * Off: under a load that saturates the server's cores from its start, compiler threads at nice
     * 19 left the server at half its throughput for over a minute (cli.JitPriority).
     */
    public static final int DEFAULT_JIT_NICE = 0;
    /**
     * The shortest slice the kernel grants (0.1 ms): a compilation yields the core to a request's
     * thread that wakes, without giving up its share of the core (cli.JitPriority).
     */
    public static final int DEFAULT_JIT_SLICE_MICROS = 100;

    /** The largest {@code --recent-window}: a window per busy stream, copied by every young collection. */
    public static final int MAX_RECENT_WINDOW_BYTES = 16 << 20;

    private static int windowBytes(long bytes) {
        if (bytes < 0 || bytes > MAX_RECENT_WINDOW_BYTES) {
            throw new IllegalArgumentException("--recent-window must be between 0 and 16MiB, got " + bytes + " bytes");
        }
        return (int) bytes;
    }

    private static final java.util.regex.Pattern LOOPBACK_V4 = java.util.regex.Pattern.compile("127(\\.[0-9]{1,3}){3}");

    /** Whether {@link #host()} is a loopback address, the only place Tether serves without auth. */
    public boolean loopbackOnly() {
        return isLoopbackName(host);
    }

    /** {@code localhost}, {@code ::1} (bracketed or not) or an address in 127.0.0.0/8. */
    public static boolean isLoopbackName(String host) {
        if (host == null) {
            return false;
        }
        if (host.equals("127.0.0.1") || host.equals("localhost")) {
            return true; // nearly every request on loopback: no lower-casing, no regex
        }
        String h = host.toLowerCase(java.util.Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        return h.equals("localhost")
                || h.equals("::1")
                || LOOPBACK_V4.matcher(h).matches();
    }

    public ServerConfig {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(store, "store");
        if ((store == StoreKind.REDIS) != (redisUrl != null)) {
            throw new IllegalArgumentException(
                    store == StoreKind.REDIS
                            ? "--store redis needs --redis redis://HOST:PORT"
                            : "--redis is only for --store redis");
        }
        if (redisReplicas < 0 || redisReplicas > 16) {
            throw new IllegalArgumentException("--redis-replicas must be between 0 and 16, got " + redisReplicas);
        }
        if (redisReplicas > 0 && store != StoreKind.REDIS) {
            throw new IllegalArgumentException("--redis-replicas is only for --store redis");
        }
        if (nodeId != null && store != StoreKind.REDIS) {
            throw new IllegalArgumentException("--node-id is only for --store redis (cluster mode)");
        }
        if (nodeId != null && !nodeId.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new IllegalArgumentException(
                    "--node-id must be 1 to 64 letters, digits, '.', '_' or '-', got '" + nodeId + "'");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be between 0 and 65535, got " + port);
        }
        if (longPollTimeout.isNegative() || longPollTimeout.isZero()) {
            throw new IllegalArgumentException("the long-poll timeout must be positive");
        }
        if (sseKeepAlive.isNegative() || sseKeepAlive.isZero()) {
            throw new IllegalArgumentException("the SSE keep-alive interval must be positive");
        }
        if (sseKeepAlive.compareTo(sseMaxLifetime) >= 0) {
            throw new IllegalArgumentException("--sse-keep-alive must be shorter than an SSE connection's lifetime ("
                    + sseMaxLifetime.toSeconds() + "s), which ends it first; got " + sseKeepAlive.toMillis() + "ms");
        }
        if (retainBytes < 0) {
            throw new IllegalArgumentException("retention must not be negative");
        }
        if (recentWindowBytes != null) {
            windowBytes(recentWindowBytes);
        }
        upstreams = List.copyOf(upstreams);
        for (Duration d : List.of(upstreamTimeout, wsMaxAge, wsCacheTtl)) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("timeouts and ages must be positive");
            }
        }
        if (maxBodyBytes < 1 || eventLoops < 1) {
            throw new IllegalArgumentException("max body and event loops must be positive");
        }
        if (model != null && !upstreams.isEmpty()) {
            throw new IllegalArgumentException("choose one model backend: --model or --upstream, not both");
        }
        if (engineGroups < 1 || engineGroups > 8) {
            throw new IllegalArgumentException("--engine-groups must be between 1 and 8, got " + engineGroups);
        }
        if (kvBudgetBytes < 0 || sessionContext < 0 || kvDiskBudgetBytes < 0 || maxMemoryBytes < 0) {
            throw new IllegalArgumentException("the KV budgets and the context size must not be negative");
        }
        corsOrigins = corsOrigins.stream().map(ServerConfig::origin).toList();
        Objects.requireNonNull(logFormat, "logFormat");
        if (maxConnections < 0) {
            throw new IllegalArgumentException("--max-connections must not be negative");
        }
        for (Duration d : List.of(headerTimeout, idleTimeout, bodyTimeout)) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("timeouts must be positive");
            }
        }
        if (responseTtl != null && (responseTtl.isNegative() || responseTtl.toSeconds() < 1)) {
            throw new IllegalArgumentException("--response-ttl must be at least 1s");
        }
        if (jitNice < 0 || jitNice > 19) {
            throw new IllegalArgumentException("--jit-nice must be between 0 and 19, got " + jitNice);
        }
        if (jitSliceMicros != 0 && (jitSliceMicros < 100 || jitSliceMicros > 100_000)) {
            throw new IllegalArgumentException(
                    "--jit-slice-us must be 0 (the kernel's default) or between 100 and 100000, got " + jitSliceMicros);
        }
    }

    /** A {@code --cors-origin} value, {@code *} or scheme://host[:port], lower-cased. */
    static String origin(String origin) {
        String o = origin.trim().toLowerCase(java.util.Locale.ROOT);
        if (o.equals("*")) {
            return o;
        }
        try {
            URI uri = new URI(o);
            if (uri.getScheme() != null
                    && uri.getHost() != null
                    && (uri.getPath() == null || uri.getPath().isEmpty())
                    && uri.getQuery() == null
                    && uri.getFragment() == null
                    && uri.getUserInfo() == null) {
                return o;
            }
        } catch (java.net.URISyntaxException e) {
            // falls through to the message
        }
        throw new IllegalArgumentException("--cors-origin '" + origin
                + "' must be * or scheme://host[:port] with no path, e.g. https://app.example");
    }

    /** How log lines are written. */
    public enum LogFormat {
        TEXT,
        JSON
    }

    /** Which {@code StreamStore} to run on. */
    public enum StoreKind {
        SQLITE,
        MEMORY,
        /** Cluster mode: any number of nodes share one Redis. */
        REDIS,
        /** The log-structured store: segment files under the data directory (the default). */
        LOG
    }

    /** A builder holding the defaults; the CLI and tests change what they need. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The default number of event loops: one per core, less one, and at least one. Every
     * write also runs on the stream engine's writer thread, which this leaves a core; with a
     * loop on every core it shares the cores with the loops. On two cores, one
     * loop did up to half again as many appends per server CPU-second as two, with a third fewer
     * {@code fdatasync}s (docs/benchmarks.md, 2026-12-05); the cost is that a fan-out to many
     * readers is written by fewer threads.
     */
    static int defaultEventLoops(int cores) {
        return Math.max(1, cores - 1);
    }

    /** Collects settings; {@link #build()} validates them. Not thread-safe. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = DEFAULT_PORT;
        private Path dataDir = Path.of("data");
        /** Null until set: {@link #defaultStore} decides. */
        private StoreKind store;

        private Duration longPollTimeout = Duration.ofSeconds(30);
        private long maxBodyBytes = 16L * 1024 * 1024;
        private Duration sseMaxLifetime = Duration.ofSeconds(60);
        /** Null until set: {@link #defaultKeepAlive}. */
        private Duration sseKeepAlive;

        private Duration slowConsumerTimeout = Duration.ofSeconds(10);
        private Long maxStoreBytes;
        private boolean logPreallocate = true;
        private int eventLoops = defaultEventLoops(Runtime.getRuntime().availableProcessors());
        private long retainBytes;
        private Long recentWindowBytes;
        private final List<URI> upstreams = new ArrayList<>();
        private String upstreamModel;
        private String upstreamApiKey = System.getenv("TETHER_UPSTREAM_API_KEY");
        private Duration upstreamTimeout = Duration.ofSeconds(120);
        private Duration wsMaxAge = Duration.ofMinutes(60);
        private Duration wsCacheTtl = Duration.ofMinutes(60);
        private Path model;
        private boolean demoModel;
        private long kvBudgetBytes;
        private int sessionContext;
        private Path authConfig;
        private boolean insecureNoAuth;
        private final List<String> corsOrigins = new ArrayList<>();
        private int maxConnections;
        private Duration headerTimeout = Duration.ofSeconds(10);
        private Duration idleTimeout = Duration.ofSeconds(60);
        /** 16 MiB at about 1 Mbit/s. */
        private Duration bodyTimeout = Duration.ofSeconds(120);

        private LogFormat logFormat = LogFormat.TEXT;
        private Duration responseTtl;
        private long kvDiskBudgetBytes;
        private int engineGroups = 1;
        private long maxMemoryBytes;
        private Path webRoot;
        private String redisUrl;
        private int redisReplicas;
        private String nodeId;
        private int jitNice = DEFAULT_JIT_NICE;
        private int jitSliceMicros = DEFAULT_JIT_SLICE_MICROS;

        private Builder() {}

        public Builder model(Path value) {
            model = value;
            return this;
        }

        /** Off by default; {@code tether serve} turns it on. */
        public Builder demoModel(boolean value) {
            demoModel = value;
            return this;
        }

        public Builder kvBudgetBytes(long value) {
            kvBudgetBytes = value;
            return this;
        }

        public Builder sessionContext(int value) {
            sessionContext = value;
            return this;
        }

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

        /**
         * The log store, except for a data directory that holds a SQLite store ({@code tether.db})
         * and no log: the default was SQLite before the log store, and that data stays where it
         * is until the operator migrates it.
         */
        public static StoreKind defaultStore(Path dataDir) {
            boolean sqlite = java.nio.file.Files.exists(dataDir.resolve("tether.db"));
            boolean log = java.nio.file.Files.exists(dataDir.resolve("log"));
            return sqlite && !log ? StoreKind.SQLITE : StoreKind.LOG;
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

        public Builder sseKeepAlive(Duration value) {
            sseKeepAlive = value;
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

        public Builder logPreallocate(boolean value) {
            logPreallocate = value;
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

        /** Per-stream recent-window bytes; out of range (negative or above 16 MiB) is refused when built. */
        public Builder recentWindowBytes(long value) {
            recentWindowBytes = value;
            return this;
        }

        public Builder upstream(URI value) {
            upstreams.add(value);
            return this;
        }

        public Builder upstreamModel(String value) {
            upstreamModel = value;
            return this;
        }

        public Builder upstreamApiKey(String value) {
            upstreamApiKey = value;
            return this;
        }

        public Builder upstreamTimeout(Duration value) {
            upstreamTimeout = value;
            return this;
        }

        public Builder wsMaxAge(Duration value) {
            wsMaxAge = value;
            return this;
        }

        public Builder wsCacheTtl(Duration value) {
            wsCacheTtl = value;
            return this;
        }

        public Builder authConfig(Path value) {
            authConfig = value;
            return this;
        }

        public Builder insecureNoAuth(boolean value) {
            insecureNoAuth = value;
            return this;
        }

        public Builder corsOrigin(String value) {
            corsOrigins.add(value);
            return this;
        }

        public Builder maxConnections(int value) {
            maxConnections = value;
            return this;
        }

        public Builder headerTimeout(Duration value) {
            headerTimeout = value;
            return this;
        }

        public Builder idleTimeout(Duration value) {
            idleTimeout = value;
            return this;
        }

        public Builder bodyTimeout(Duration value) {
            bodyTimeout = value;
            return this;
        }

        public Builder logFormat(LogFormat value) {
            logFormat = value;
            return this;
        }

        public Builder responseTtl(Duration value) {
            responseTtl = value;
            return this;
        }

        public Builder maxMemoryBytes(long value) {
            maxMemoryBytes = value;
            return this;
        }

        public Builder engineGroups(int value) {
            engineGroups = value;
            return this;
        }

        public Builder kvDiskBudgetBytes(long value) {
            kvDiskBudgetBytes = value;
            return this;
        }

        /** May name a directory that does not exist (yet): {@code /} then says the web app is not built. */
        public Builder webRoot(Path value) {
            webRoot = value;
            return this;
        }

        public Builder redisUrl(String value) {
            redisUrl = value;
            return this;
        }

        public Builder redisReplicas(int value) {
            redisReplicas = value;
            return this;
        }

        public Builder nodeId(String value) {
            nodeId = value;
            return this;
        }

        public Builder jitNice(int value) {
            jitNice = value;
            return this;
        }

        public Builder jitSliceMicros(int value) {
            jitSliceMicros = value;
            return this;
        }

        /** The long-poll timeout, or half an SSE connection's lifetime when that is shorter. */
        private Duration defaultKeepAlive() {
            return longPollTimeout.compareTo(sseMaxLifetime) < 0 ? longPollTimeout : sseMaxLifetime.dividedBy(2);
        }

        public ServerConfig build() {
            return new ServerConfig(
                    host,
                    port,
                    dataDir,
                    store != null ? store : defaultStore(dataDir),
                    longPollTimeout,
                    maxBodyBytes,
                    sseMaxLifetime,
                    sseKeepAlive != null ? sseKeepAlive : defaultKeepAlive(),
                    slowConsumerTimeout,
                    maxStoreBytes,
                    logPreallocate,
                    eventLoops,
                    retainBytes,
                    recentWindowBytes == null ? null : windowBytes(recentWindowBytes),
                    upstreams,
                    upstreamModel,
                    upstreamApiKey,
                    upstreamTimeout,
                    wsMaxAge,
                    wsCacheTtl,
                    model,
                    demoModel,
                    kvBudgetBytes,
                    sessionContext,
                    authConfig,
                    insecureNoAuth,
                    corsOrigins,
                    maxConnections,
                    headerTimeout,
                    idleTimeout,
                    bodyTimeout,
                    logFormat,
                    responseTtl,
                    maxMemoryBytes,
                    kvDiskBudgetBytes,
                    engineGroups,
                    webRoot,
                    redisUrl,
                    redisReplicas,
                    nodeId,
                    jitNice,
                    jitSliceMicros);
        }
    }
}
