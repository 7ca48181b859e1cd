package dev.tether.inference.upstream;

import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelInfo;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.metrics.Metrics;
import java.io.BufferedReader;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Any OpenAI-compatible Chat Completions endpoint, possibly several replicas of it. A chain
 * goes to the replica rendezvous hashing ranks first for its session key; when a replica fails
 * before anything was streamed, the next one is tried, and a replica already tried again only
 * after an exponential backoff. Once output has reached the client nothing is retried.
 *
 * <p>Thread-safe: each call runs on its caller's (virtual) thread.
 */
public final class UpstreamBackend implements ModelBackend {
    private static final System.Logger LOG = System.getLogger(UpstreamBackend.class.getName());
    private static final long BACKOFF_MILLIS = 200;
    /** Heap for the sessions' serialized contexts ({@link PrefixCache}). */
    private static final long PREFIX_BUDGET_BYTES = 32L << 20;

    private final UpstreamSettings settings;
    private final Rendezvous rendezvous;
    private final UpstreamTransport http;
    private final PrefixCache prefixes = new PrefixCache(PREFIX_BUDGET_BYTES);
    private final Metrics metrics;
    private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "tether-upstream-watchdog");
        t.setDaemon(true);
        return t;
    });

    /**
     * @param transport the HTTP client (connect timeout already set); closed with this backend
     * @param metrics   records latency and errors per replica, or null
     */
    public UpstreamBackend(UpstreamSettings settings, UpstreamTransport transport, Metrics metrics) {
        this.metrics = metrics;
        this.settings = settings;
        this.rendezvous = new Rendezvous(settings.replicas());
        this.http = transport;
    }

    @Override
    public ModelResult generate(ModelRequest request, ModelSink sink) throws ModelException, InterruptedException {
        List<URI> ranked = rendezvous.rank(request.sessionKey());
        byte[] body =
                ChatCodec.requestBody(request, settings.model() != null ? settings.model() : request.model(), prefixes);
        int attempts = Math.max(2, ranked.size() + 1);
        ModelException last = null;
        for (int attempt = 0; attempt < attempts; attempt++) {
            if (attempt >= ranked.size()) {
                Thread.sleep(BACKOFF_MILLIS << (attempt - ranked.size()));
            }
            URI base = ranked.get(attempt % ranked.size());
            ChunkReader reader = new ChunkReader(sink, base.toString());
            try {
                return exchange(base, body, reader);
            } catch (Retryable e) {
                if (reader.emitted()) {
                    throw new ModelException(ModelException.Kind.UNAVAILABLE, e.getMessage());
                }
                LOG.log(
                        System.Logger.Level.WARNING,
                        e.getMessage() + " (attempt " + (attempt + 1) + "/" + attempts + ")");
                last = new ModelException(ModelException.Kind.UNAVAILABLE, e.getMessage());
            }
        }
        throw new ModelException(
                ModelException.Kind.UNAVAILABLE, last.getMessage() + " (gave up after " + attempts + " attempts)");
    }

    /** {@code path} under the replica's base URL. */
    private static URI at(URI base, String path) {
        String b = base.toString();
        int end = b.length();
        while (end > 0 && b.charAt(end - 1) == '/') {
            end--;
        }
        return URI.create(b.substring(0, end) + path);
    }

    /** The headers of a request that accepts {@code accept}, with the API key. */
    private Map<String, String> headers(String accept) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Accept", accept);
        if (settings.apiKey() != null) {
            headers.put("Authorization", "Bearer " + settings.apiKey());
        }
        return headers;
    }

    private ModelResult exchange(URI base, byte[] body, ChunkReader reader)
            throws ModelException, InterruptedException, Retryable {
        Map<String, String> headers = headers("text/event-stream");
        headers.put("Content-Type", "application/json");
        UpstreamTransport.Answer response;
        long start = System.nanoTime();
        try {
            response =
                    http.send(at(base, "/chat/completions"), headers, body, settings.firstByteTimeout(), reader::sent);
        } catch (UpstreamTransport.Timeout e) {
            observe(base, start, "timeout");
            throw new Retryable("upstream " + base + " did not answer within "
                    + settings.firstByteTimeout().toSeconds() + " s");
        } catch (IOException e) {
            observe(base, start, "unreachable");
            throw new Retryable("upstream " + base + " is unreachable: " + describe(e));
        }
        observe(base, start, response.status() == 200 ? "ok" : "http_" + response.status());
        AtomicBoolean timedOut = new AtomicBoolean();
        Thread self = Thread.currentThread();
        IdleStream in = new IdleStream(response.body());
        long idleNanos = settings.idleTimeout().toNanos();
        ScheduledFuture<?> dog = watchdog.scheduleAtFixedRate(
                () -> {
                    if (System.nanoTime() - in.lastActivity > idleNanos && timedOut.compareAndSet(false, true)) {
                        self.interrupt();
                    }
                },
                idleNanos / 4,
                idleNanos / 4,
                TimeUnit.NANOSECONDS);
        try (in) {
            return read(base, response, in, reader);
        } catch (IOException e) {
            if (timedOut.get()) {
                Thread.interrupted();
                throw new Retryable("upstream " + base + " sent nothing for "
                        + settings.idleTimeout().toSeconds() + " s (idle timeout)");
            }
            if (Thread.interrupted()) {
                throw new InterruptedException("cancelled");
            }
            throw new Retryable("upstream " + base + " broke the connection: " + describe(e));
        } finally {
            dog.cancel(false);
        }
    }

    private void observe(URI replica, long startNanos, String outcome) {
        if (metrics != null) {
            metrics.upstream(replica.toString(), System.nanoTime() - startNanos, outcome);
        }
    }

    private static ModelResult read(URI base, UpstreamTransport.Answer response, InputStream in, ChunkReader reader)
            throws IOException, ModelException, Retryable {
        int status = response.status();
        if (status != 200) {
            String detail = errorDetail(in);
            String message = "upstream " + base + " answered HTTP " + status + ": " + detail;
            if (status == 408 || status == 409 || status == 429 || status >= 500) {
                throw new Retryable(message);
            }
            if (status == 401 || status == 403 || status == 404 || status == 405) {
                // Not the prompt's fault: a wrong --upstream URL or model, or a bad API key (finding 7).
                throw new ModelException(
                        ModelException.Kind.UNAVAILABLE,
                        message + " (check --upstream, --upstream-model and TETHER_UPSTREAM_API_KEY)");
            }
            boolean context = detail.contains("context length") || detail.contains("maximum context");
            throw new ModelException(
                    context ? ModelException.Kind.CONTEXT_LENGTH_EXCEEDED : ModelException.Kind.INVALID_REQUEST,
                    message);
        }
        if (response.contentType().startsWith("application/json")) {
            return reader.readWhole(ChatCodec.JSON.readTree(in));
        }
        return reader.readStream(new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)));
    }

    private static String errorDetail(InputStream in) {
        try {
            byte[] bytes = in.readNBytes(4096);
            String text = new String(bytes, StandardCharsets.UTF_8).strip();
            try {
                var node = ChatCodec.JSON.readTree(text);
                String message = node.path("error").path("message").asText(null);
                if (message != null) {
                    return message;
                }
            } catch (IOException notJson) {
                // fall through to the raw text
            }
            return text.isEmpty() ? "(empty body)" : text;
        } catch (IOException e) {
            return "(body unreadable: " + e.getMessage() + ")";
        }
    }

    private static String describe(IOException e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /**
     * The upstream's own list ({@code GET <upstream>/models}), from the first replica that answers.
     * With {@code --upstream-model}, every request goes to that model whatever the client names,
     * so the list is that one model.
     */
    @Override
    public List<ModelInfo> models() throws ModelException, InterruptedException {
        if (settings.model() != null) {
            return List.of(new ModelInfo(settings.model(), "upstream", 0));
        }
        String last = "no upstream configured";
        for (URI base : settings.replicas()) {
            try {
                UpstreamTransport.Answer response =
                        http.send(at(base, "/models"), headers("application/json"), null, settings.firstByteTimeout());
                try (InputStream in = response.body()) {
                    if (response.status() != 200) {
                        last = "upstream " + base + " answered GET /models with HTTP " + response.status() + ": "
                                + errorDetail(in);
                        continue;
                    }
                    List<ModelInfo> out = new ArrayList<>();
                    for (var m : ChatCodec.JSON.readTree(in).path("data")) {
                        String id = m.path("id").asText(null);
                        if (id != null) {
                            out.add(new ModelInfo(
                                    id,
                                    m.path("owned_by").asText("upstream"),
                                    m.path("created").asLong(0)));
                        }
                    }
                    return out;
                }
            } catch (IOException e) {
                last = "upstream " + base + " could not be asked for its models: " + describe(e);
            }
        }
        throw new ModelException(ModelException.Kind.UNAVAILABLE, last + " (check --upstream)");
    }

    @Override
    public void forget(String sessionKey) {
        prefixes.forget(sessionKey);
    }

    /** Calls {@link ModelSink#sent} once its request is under way. */
    @Override
    public boolean reportsSent() {
        return true;
    }

    @Override
    public String describe() {
        return "upstream " + settings.replicas();
    }

    @Override
    public void close() {
        watchdog.shutdownNow();
        http.close(); // drops the connections of exchanges still open
    }

    /** A failure before output, worth another attempt. */
    private static final class Retryable extends Exception {
        private static final long serialVersionUID = 1L;

        Retryable(String message) {
            super(message, null, false, false);
        }
    }

    /** Records when bytes last arrived, for the idle watchdog. */
    private static final class IdleStream extends FilterInputStream {
        volatile long lastActivity = System.nanoTime();

        IdleStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            lastActivity = System.nanoTime();
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            lastActivity = System.nanoTime();
            return n;
        }
    }
}
