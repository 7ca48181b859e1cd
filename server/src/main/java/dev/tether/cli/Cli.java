package dev.tether.cli;

import dev.tether.TetherServer;
import dev.tether.config.ServerConfig;
import dev.tether.config.ServerConfig.StoreKind;
import dev.tether.config.Units;
import java.io.PrintStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.function.ToIntFunction;

/**
 * The {@code tether} command line. This is the only main code that prints to stdout/stderr;
 * everything else logs through {@code System.Logger}.
 */
public final class Cli {
    static final String USAGE =
            """
            usage: tether serve [options]     run the server in the foreground (Ctrl-C stops it)
                   tether model generate --out FILE [--size tiny|small|134m] [--seed N]
                                              write a random-weight llama GGUF (for tests and demos)
                   tether help                show this help

            serve options:
              --port N                  port to listen on (default %d; 0 picks a free one)
              --host H                  address to bind (default 127.0.0.1)
              --data-dir DIR            where the store lives (default ./data)
              --store log|sqlite|memory|redis  log (durable: segment files under --data-dir; the
                                        default, except for a data dir that holds a SQLite store and
                                        no log), sqlite (durable: --data-dir/tether.db), memory
                                        (nothing kept on exit) or redis (cluster mode: any number of
                                        nodes on one Redis; needs --redis, and a Redis with
                                        appendonly yes and appendfsync always)
              --redis URL               the Redis of --store redis, e.g. redis://127.0.0.1:6379, or
                                        redis-sentinel://HOST:26379,HOST:26379#MASTER
              --redis-replicas N        acknowledge a write only once N Redis replicas have it (WAIT;
                                        default 0: the primary's AOF fsync)
              --node-id ID              this node's name in cluster mode (default: a random one)
              --long-poll-timeout D     how long a long-poll waits before 204 (default 30s; e.g. 500ms)
              --sse-keep-alive D        a caught-up SSE tail sends a control event after this long
                                        without one, under 60s (default: the long-poll
                                        timeout, or 30s when that is 60s or more)
              --max-body SIZE           largest request body (default 16MiB; e.g. 512KiB)
              --max-store-size SIZE     cap on the store's size on disk; appends beyond it get 503
              --log-preallocate on|off  the log store writes its next segment full of zeros ahead of
                                        time, so a commit's fdatasync has no file size to commit
                                        (default on; off on btrfs or ZFS)
              --retain-bytes SIZE       keep at most SIZE of each stream; older messages are dropped
                                        and reads below the new start get 410 (default: keep all)
              --recent-window SIZE      each stream's newest SIZE of messages kept in memory for
                                        live readers, for a second at most; further behind they
                                        read the store (default 8KiB, at most 16MiB; every young
                                        GC copies a busy stream's)
              --event-loops N           event-loop threads, for HTTP and the upstream client alike
                                        (default: one per core, less one; at least 1)
              --max-memory SIZE         memory for request bodies, queued writes, producer state and
                                        recent messages; beyond it writes get 503 memory_full
                                        (default: half the JVM's maximum heap)
              --max-connections N       open connections at most; more are refused (default: from the
                                        file-descriptor limit, at most 10000)
              --header-timeout D        a connection must send its request headers within D (default 10s)
              --idle-timeout D          an idle keep-alive connection is closed after D (default 60s)
              --body-timeout D          a request body must arrive within D of its headers (default 120s)
              --log-format text|json    one line per event (default) or one JSON object per line
              --jit-nice N              nice value for the JVM's JIT compiler threads, 0-19: on a busy
                                        core requests run before compilations, but a server saturated
                                        from its start stays slow until the JIT catches up (default %d:
                                        the server's own priority)
              --jit-slice-us N          time slice (Linux 6.12+) of the JIT compiler threads, 100-100000
                                        us: a request's thread that wakes takes the core from a
                                        compilation after N us, the JIT keeping its share (default %d;
                                        0: the kernel's default)
              --response-ttl D          stored responses and conversations (and their KV spill files)
                                        expire after D without use (default: kept until deleted)
              --web-root DIR            serve the built web app from DIR at / (./tether serve passes
                                        web/app/dist, building it first when npm is available)

            security (docs/security.md):
              --auth-config FILE        keys and JWT settings; every request then needs
                                        Authorization: Bearer <key or token> (but /health
                                        and the web app's files)
              --cors-origin ORIGIN      a web origin allowed to call the server (repeatable, or
                                        comma-separated; * for any); without it only loopback pages
                                        (open mode) or no pages (with auth) may
              --insecure-no-auth        serve a non-loopback --host without --auth-config (anyone who
                                        can reach the port can read and write everything)

            model backends (the Responses API at /v1/responses); with neither --model nor
            --upstream, a small random-weight demo model is generated under the data dir and served
            (its output is random text, and every response's metadata says so):
              --model FILE.gguf         run this GGUF model in-process (llama.cpp, CPU), keeping each
                                        session's KV cache warm between turns
              --kv-budget SIZE          KV-cache memory for all resident sessions (default: 1/16 of
                                        RAM, 256MiB..2GiB); least recently used sessions are spilled
                                        to <data-dir>/kv/ and restored on their next turn
              --kv-disk-budget SIZE     most bytes of spilled KV state in <data-dir>/kv/; the least
                                        recently written files are deleted beyond it (default: 8x
                                        --kv-budget, at most a quarter of the free disk)
              --context N               most tokens per session (default: the model's, at most 8192)
              --engine-groups N         split the KV cache and the 8 resident sessions into N
                                        llama.cpp contexts (1-8, default 1): a decode step then
                                        costs in proportion to its group's tokens, not to all
                                        resident tokens; no batching across groups
              --upstream URL            an OpenAI-compatible Chat Completions endpoint, e.g.
                                        http://127.0.0.1:8000/v1 (vLLM, llama.cpp, Ollama, OpenAI);
                                        repeat for replicas: each chain sticks to one, others take over
              --upstream-model NAME     model name sent upstream (default: the client's)
              --upstream-timeout D      longest wait for the first byte and between chunks (default 120s)
                                        (API key: environment variable TETHER_UPSTREAM_API_KEY)
              --ws-max-age D            Responses WebSocket connection lifetime (default 60m)
              --ws-cache-ttl D          how long a connection keeps its latest response (default 60m)
            """
                    .formatted(
                            ServerConfig.DEFAULT_PORT,
                            ServerConfig.DEFAULT_JIT_NICE,
                            ServerConfig.DEFAULT_JIT_SLICE_MICROS);

    private final PrintStream out;
    private final PrintStream err;
    private final ToIntFunction<ServerConfig> server;

    Cli(PrintStream out, PrintStream err) {
        this(out, err, null);
    }

    /**
     * For tests: a {@code serve} command that parses is handed to {@code server} instead of starting
     * a server (null starts one), so a test of a refusal fails at once when the input is accepted.
     */
    Cli(PrintStream out, PrintStream err, ToIntFunction<ServerConfig> server) {
        this.out = out;
        this.err = err;
        this.server = server;
    }

    public static void main(String[] args) {
        System.setProperty("java.util.logging.SimpleFormatter.format", LogSetup.TEXT_FORMAT);
        System.exit(new Cli(System.out, System.err).run(args));
    }

    int run(String[] args) {
        if (args.length == 0 || args[0].equals("help") || args[0].equals("--help") || args[0].equals("-h")) {
            out.print(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        if (args[0].equals("model")) {
            return ModelCommand.run(args, out, err);
        }
        if (args[0].equals("aot-train")) {
            return AotTraining.run(args, out, err);
        }
        if (!args[0].equals("serve")) {
            err.println("tether: unknown command '" + args[0] + "'");
            err.print(USAGE);
            return 2;
        }
        ServerConfig config;
        try {
            config = parseServe(args);
        } catch (IllegalArgumentException e) {
            err.println("tether serve: " + e.getMessage());
            err.println("run 'tether help' for the options");
            return 2;
        }
        return server == null ? serve(config) : server.applyAsInt(config);
    }

    static ServerConfig parseServe(String[] args) {
        ServerConfig.Builder c = ServerConfig.builder().demoModel(true);
        for (int i = 1; i < args.length; i++) {
            String flag = args[i];
            if (flag.equals("--help") || flag.equals("-h")) {
                throw new IllegalArgumentException("options are listed below");
            }
            if (flag.equals("--insecure-no-auth")) {
                c = c.insecureNoAuth(true);
                continue;
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(flag + " needs a value");
            }
            String value = args[++i];
            c = switch (flag) {
                case "--port" -> c.port(integer(flag, value));
                case "--host" -> c.host(value);
                case "--data-dir" -> c.dataDir(Path.of(value));
                case "--store" -> c.store(store(value));
                case "--long-poll-timeout" -> c.longPollTimeout(Units.duration(value));
                case "--sse-keep-alive" -> c.sseKeepAlive(Units.duration(value));
                case "--max-body" -> c.maxBodyBytes(Units.bytes(value));
                case "--max-store-size" -> c.maxStoreBytes(Units.bytes(value));
                case "--log-preallocate" -> c.logPreallocate(onOff(flag, value));
                case "--event-loops" -> c.eventLoops(integer(flag, value));
                case "--retain-bytes" -> c.retainBytes(Units.bytes(value));
                case "--recent-window" -> c.recentWindowBytes(Units.bytes(value));
                case "--upstream" -> c.upstream(upstream(value));
                case "--upstream-model" -> c.upstreamModel(value);
                case "--upstream-timeout" -> c.upstreamTimeout(Units.duration(value));
                case "--ws-max-age" -> c.wsMaxAge(Units.duration(value));
                case "--ws-cache-ttl" -> c.wsCacheTtl(Units.duration(value));
                case "--model" -> c.model(Path.of(value));
                case "--kv-budget" -> c.kvBudgetBytes(Units.bytes(value));
                case "--context" -> c.sessionContext(integer(flag, value));
                case "--kv-disk-budget" -> c.kvDiskBudgetBytes(Units.bytes(value));
                case "--engine-groups" -> c.engineGroups(integer(flag, value));
                case "--max-memory" -> c.maxMemoryBytes(Units.bytes(value));
                case "--auth-config" -> c.authConfig(Path.of(value));
                case "--cors-origin" -> corsOrigins(c, value);
                case "--max-connections" -> c.maxConnections(integer(flag, value));
                case "--header-timeout" -> c.headerTimeout(Units.duration(value));
                case "--idle-timeout" -> c.idleTimeout(Units.duration(value));
                case "--body-timeout" -> c.bodyTimeout(Units.duration(value));
                case "--log-format" -> c.logFormat(logFormat(value));
                case "--response-ttl" -> c.responseTtl(Units.duration(value));
                case "--web-root" -> c.webRoot(Path.of(value));
                case "--redis" -> c.redisUrl(redis(value));
                case "--node-id" -> c.nodeId(value);
                case "--redis-replicas" -> c.redisReplicas(integer(flag, value));
                case "--jit-nice" -> c.jitNice(integer(flag, value));
                case "--jit-slice-us" -> c.jitSliceMicros(integer(flag, value));
                default -> throw new IllegalArgumentException("unknown option '" + flag + "'");
            };
        }
        ServerConfig config = c.build();
        if (config.authConfig() == null && !config.loopbackOnly() && !config.insecureNoAuth()) {
            throw new IllegalArgumentException("--host " + config.host() + " is not a loopback address: give"
                    + " --auth-config FILE so callers must authenticate (or --insecure-no-auth to serve it open)");
        }
        return config;
    }

    private static ServerConfig.Builder corsOrigins(ServerConfig.Builder c, String value) {
        for (String origin : value.split(",")) {
            if (!origin.isBlank()) {
                c.corsOrigin(origin.trim());
            }
        }
        return c;
    }

    private static ServerConfig.LogFormat logFormat(String value) {
        return switch (value) {
            case "text" -> ServerConfig.LogFormat.TEXT;
            case "json" -> ServerConfig.LogFormat.JSON;
            default -> throw new IllegalArgumentException("--log-format must be text or json, got '" + value + "'");
        };
    }

    static int integer(String flag, String value) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " needs a whole number, got '" + value + "'");
        }
    }

    private static URI upstream(String value) {
        try {
            URI uri = new URI(value);
            if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null) {
                return uri;
            }
        } catch (URISyntaxException e) {
            // falls through to the message below
        }
        throw new IllegalArgumentException(
                "--upstream must be an http(s) URL like http://127.0.0.1:8000/v1, got '" + value + "'");
    }

    private static String redis(String value) {
        if (!value.matches("(rediss?|redis-sentinel)://[^\\s]+")) {
            throw new IllegalArgumentException("--redis must be a URL like redis://127.0.0.1:6379 (or"
                    + " redis-sentinel://HOST:26379,HOST:26379#MASTER for Sentinel), got '" + value + "'");
        }
        return value;
    }

    private static boolean onOff(String flag, String value) {
        return switch (value) {
            case "on" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException(flag + " must be on or off, got '" + value + "'");
        };
    }

    private static StoreKind store(String value) {
        try {
            return StoreKind.valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--store must be log, sqlite, memory or redis, got '" + value + "'");
        }
    }

    private int serve(ServerConfig config) {
        LogSetup.install(config.logFormat());
        JitPriority.apply(config.jitNice(), config.jitSliceMicros());
        TetherServer server;
        try {
            server = TetherServer.start(config);
        } catch (Exception e) {
            err.println("tether serve: could not start: " + describe(e));
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            err.println("tether: shutting down (finishing in-flight writes)");
                            server.close();
                            err.println("tether: stopped");
                            stopped.countDown();
                        },
                        "tether-shutdown"));
        String data = config.store() == StoreKind.MEMORY
                ? "in memory, not kept after exit"
                : config.store().name().toLowerCase(Locale.ROOT) + " store, " + server.storeDescription();
        out.println("Tether listening on http://" + config.host() + ":" + server.port() + " (data: " + data
                + "; network: " + server.transport() + ")");
        out.println("Responses API: http://" + config.host() + ":" + server.port() + "/v1/responses (model backend: "
                + server.backendDescription() + ")");
        out.println(authLine(config));
        out.flush();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    static String authLine(ServerConfig config) {
        if (config.authConfig() != null) {
            return "Auth: on (" + config.authConfig() + "); every request needs Authorization: Bearer <key or token>"
                    + " (but /health and the web app's files)";
        }
        if (config.loopbackOnly()) {
            return "Auth: OFF - open to every local process and loopback page on " + config.host()
                    + " (give --auth-config FILE to require credentials; docs/security.md)";
        }
        return "Auth: OFF on a non-loopback address (--insecure-no-auth): anyone who can reach " + config.host()
                + " can read and write everything";
    }

    private static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder(String.valueOf(e.getMessage()));
        for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
            sb.append(": ").append(c.getMessage());
        }
        return sb.toString();
    }
}
