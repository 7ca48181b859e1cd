package dev.tether.metrics;

import dev.tether.store.StreamStore;
import dev.tether.stream.EngineObserver;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.MemoryBudget;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.function.ToDoubleFunction;

/**
 * Every metric Tether exposes at {@code GET /metrics} (Prometheus text format), named in one place
 * so the list in docs/operations.md has one source. Components record through the typed methods
 * here; nothing else touches Micrometer.
 *
 * <p>Thread-safe (Micrometer meters are).
 */
public final class Metrics {

    private final PrometheusMeterRegistry registry;
    private final DistributionSummary batchCommands;
    private final Timer fsync;
    private final Counter appends;
    private final Counter conflicts;
    private final Counter appendBytes;
    private final Timer ttft;
    private final Timer tokenGap;
    private final Counter cachedTokens;
    private final Counter prefilledTokens;
    private final Counter outputTokens;

    public Metrics() {
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        this.conflicts = Counter.builder("tether.cluster.conflicts")
                .description("write batches decided again because another node changed their streams first")
                .register(registry);
        this.appends = Counter.builder("tether.stream.appends")
                .description("messages appended to durable streams (acknowledged, on disk)")
                .register(registry);
        this.appendBytes = Counter.builder("tether.stream.append.bytes")
                .description("bytes appended to durable streams")
                .baseUnit("bytes")
                .register(registry);
        this.batchCommands = DistributionSummary.builder("tether.store.batch.commands")
                .description("write commands committed together in one transaction (group commit)")
                .publishPercentileHistogram()
                // Bounded, or the histogram has a bucket for every size up to Long.MAX_VALUE
                // (276 lines per scrape); a larger batch lands in +Inf.
                .minimumExpectedValue(1.0)
                .maximumExpectedValue((double) EngineSettings.DEFAULT_MAX_BATCH)
                .register(registry);
        this.fsync = Timer.builder("tether.store.fsync")
                .description(
                        "time to make a committed batch durable (fdatasync of the log segment, or of SQLite's WAL)")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(50_000))
                .maximumExpectedValue(Duration.ofSeconds(10))
                .register(registry);
        this.ttft = Timer.builder("tether.response.ttft")
                .description("time from a response's start to its first output")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(2))
                .register(registry);
        this.tokenGap = Timer.builder("tether.response.token.latency")
                .description("time between consecutive output fragments of a response (per-token latency)")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(100_000))
                .maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry);
        this.cachedTokens = Counter.builder("tether.model.input.tokens")
                .tag("kind", "cached")
                .description("input tokens the backend reused from its cache (cached) or evaluated (prefilled)")
                .register(registry);
        this.prefilledTokens = Counter.builder("tether.model.input.tokens")
                .tag("kind", "prefilled")
                .description("input tokens the backend reused from its cache (cached) or evaluated (prefilled)")
                .register(registry);
        this.outputTokens = Counter.builder("tether.model.output.tokens")
                .description("output tokens generated")
                .register(registry);
    }

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }

    MeterRegistry registry() {
        return registry;
    }

    // --- streams and store ---

    /** What the stream engine reports, recorded here. */
    public EngineObserver engineObserver() {
        return new EngineObserver() {
            @Override
            public void committed(int commands) {
                batchCommitted(commands);
            }

            @Override
            public void synced(long nanos) {
                Metrics.this.synced(nanos);
            }

            @Override
            public void conflicted() {
                conflicts.increment();
            }

            @Override
            public void published(int messages, long bytes) {
                if (messages > 0) {
                    appended(messages, bytes);
                }
            }
        };
    }

    public void appended(int messages, long bytes) {
        appends.increment(messages);
        appendBytes.increment(bytes);
    }

    public void batchCommitted(int commands) {
        batchCommands.record(commands);
    }

    public void synced(long nanos) {
        fsync.record(Duration.ofNanos(nanos));
    }

    /**
     * Gauges of the store: the bytes it holds on disk as {@code --max-store-size} counts them (not
     * for a store without files of its own), the cap when one is set ({@code maxBytes} > 0), and
     * the time it took to open and load at start (a log's recovery).
     */
    public void store(StreamStore store, long maxBytes, long openNanos) {
        if (store.diskBytes() >= 0) {
            Gauge.builder("tether.store", store, StreamStore::diskBytes)
                    .description("bytes the store holds on disk, as --max-store-size counts them")
                    .baseUnit("bytes")
                    .register(registry);
            if (maxBytes > 0) {
                Gauge.builder("tether.store.max", () -> maxBytes)
                        .description("the store's cap on disk (--max-store-size)")
                        .baseUnit("bytes")
                        .register(registry);
            }
        }
        Gauge.builder("tether.store.open", () -> openNanos / 1e9)
                .description(
                        "time the store took to open and its contents to load at start (for the log: its recovery)")
                .baseUnit("seconds")
                .register(registry);
    }

    /** Gauges of the log store: its segment files, and its index chunk file (a cache off the heap). */
    public <T> void logStore(T source, ToDoubleFunction<T> segments, ToDoubleFunction<T> indexFileBytes) {
        Gauge.builder("tether.store.segments", source, segments)
                .description("the log's segment files")
                .register(registry);
        Gauge.builder("tether.store.index.file", source, indexFileBytes)
                .description(
                        "length of the log's index chunk file, where index entries leave the heap: the most it has held since"
                                + " the log opened (not counted by --max-store-size)")
                .baseUnit("bytes")
                .register(registry);
    }

    /**
     * Gauges of the memory budget ({@code --max-memory}): bytes pinned (request bodies, queued
     * writes, producer state) and cached (recent windows) now, and the limit.
     */
    public void memory(MemoryBudget budget) {
        Gauge.builder("tether.memory", budget, MemoryBudget::pinned)
                .tag("kind", "pinned")
                .description("bytes held against --max-memory: pinned (bodies, queued writes, producer state)"
                        + " or cached (recent windows, evicted first)")
                .baseUnit("bytes")
                .register(registry);
        Gauge.builder("tether.memory", budget, MemoryBudget::cached)
                .tag("kind", "cached")
                .description("bytes held against --max-memory: pinned (bodies, queued writes, producer state)"
                        + " or cached (recent windows, evicted first)")
                .baseUnit("bytes")
                .register(registry);
        Gauge.builder("tether.memory.limit", budget, MemoryBudget::limit)
                .description("the memory budget (--max-memory)")
                .baseUnit("bytes")
                .register(registry);
    }

    // --- connections ---

    /** A gauge of open connections of one kind (http, sse, websocket, upstream), read from {@code source}. */
    public <T> void connections(String kind, T source, ToDoubleFunction<T> value) {
        Gauge.builder("tether.connections", source, value)
                .tag("kind", kind)
                .description("open connections by kind")
                .register(registry);
    }

    /** A counter of connections refused over the limit or closed for a missed deadline. */
    public <T> void connectionEnds(String reason, T source, ToDoubleFunction<T> value) {
        io.micrometer.core.instrument.FunctionCounter.builder("tether.connections.closed", source, value)
                .tag("reason", reason)
                .description("connections refused (limit) or closed by the server (timeout)")
                .register(registry);
    }

    /** A reader cut for falling behind, per transport (sse, responses_sse, websocket). */
    public void slowReaderDisconnected(String transport) {
        registry.counter("tether.slow.reader.disconnects", "transport", transport)
                .increment();
    }

    // --- responses and models ---

    public void responseFinished(String status) {
        registry.counter("tether.responses", "status", status).increment();
    }

    public void firstOutput(long nanosSinceStart) {
        ttft.record(Duration.ofNanos(nanosSinceStart));
    }

    public void nextOutput(long nanosSincePrevious) {
        tokenGap.record(Duration.ofNanos(nanosSincePrevious));
    }

    /** One turn's token accounting as the backend reported it (negative: unknown). */
    public void tokens(long input, long cached, long output) {
        if (input >= 0 && cached >= 0) {
            cachedTokens.increment(cached);
            prefilledTokens.increment(Math.max(0, input - cached));
        }
        if (output >= 0) {
            outputTokens.increment(output);
        }
    }

    /** A gauge of KV-cache bytes (resident or spilled) of the embedded engine. */
    public <T> void kvBytes(String where, T source, ToDoubleFunction<T> value) {
        Gauge.builder("tether.kv.bytes", source, value)
                .tag("where", where)
                .description("KV-cache bytes of the embedded engine: resident in memory or spilled to disk")
                .baseUnit("bytes")
                .register(registry);
    }

    /** One upstream request: time until its answer began, and how it went (ok, or an error kind). */
    public void upstream(String replica, long nanos, String outcome) {
        Timer.builder("tether.upstream.latency")
                .tag("replica", replica)
                .description("time until an upstream's answer began streaming")
                .publishPercentileHistogram()
                .register(registry)
                .record(Duration.ofNanos(nanos));
        if (!outcome.equals("ok")) {
            registry.counter("tether.upstream.errors", "replica", replica, "kind", outcome)
                    .increment();
        }
    }

    // --- sessions ---

    /** Gauges of the sessions loaded on this node and of the devices connected to them. */
    public <T> void sessions(T source, ToDoubleFunction<T> sessions, ToDoubleFunction<T> devices) {
        Gauge.builder("tether.sessions", source, sessions)
                .description("sessions loaded on this node")
                .register(registry);
        Gauge.builder("tether.session.devices", source, devices)
                .description("live connections (SSE readers, WebSockets) to sessions")
                .register(registry);
    }

    /** A session run ended, by status and kind of agent (built_in, external). */
    public void sessionRunFinished(String status, String agent) {
        registry.counter("tether.session.runs", "status", status, "agent", agent)
                .increment();
    }

    /** A signal entry (cancel, steer, approve, deny, message) and whether it applied. */
    public void sessionSignal(String kind, String outcome) {
        registry.counter("tether.session.signals", "kind", kind, "outcome", outcome)
                .increment();
    }

    /** Turns waiting for the embedded engine. */
    public <T> void engineQueue(T source, ToDoubleFunction<T> value) {
        Gauge.builder("tether.engine.waiting.turns", source, value)
                .description("turns waiting for the embedded engine")
                .register(registry);
    }

    /** An error answer, by the condition of the error table. */
    public void httpError(String condition) {
        registry.counter("tether.http.errors", "condition", condition).increment();
    }

    // --- auth ---

    /** A request refused for its credentials (missing, invalid) or its capabilities (forbidden). */
    public void authFailure(String reason) {
        registry.counter("tether.auth.failures", "reason", reason).increment();
    }
}
