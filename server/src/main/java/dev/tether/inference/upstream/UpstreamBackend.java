package dev.tether.inference.upstream;

import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelInfo;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.metrics.Metrics;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Any OpenAI-compatible Chat Completions endpoint, possibly several replicas of it. A chain
 * goes to the replica rendezvous hashing ranks first for its session key; when a replica fails
 * before anything was streamed, the next one is tried, and a replica already tried again only
 * after an exponential backoff. A request that met a held connection closing under it goes out
 * again at once, once a turn. Once output has reached the client nothing is retried.
 *
 * <p>A streamed answer is parsed where it arrives, on the transport's thread, and handed to the
 * sink from there; the caller's (virtual) thread sends the request, waits for the answer's end
 * (or an idle timeout, or its own interrupt) and retries. Thread-safe.
 */
public final class UpstreamBackend implements ModelBackend {
    private static final System.Logger LOG = System.getLogger(UpstreamBackend.class.getName());
    private static final long BACKOFF_MILLIS = 200;
    /** Heap for the sessions' serialized contexts ({@link PrefixCache}). */
    private static final long PREFIX_BUDGET_BYTES = 32L << 20;
    /** A whole (non-streamed) answer or model list, at most. */
    private static final int MAX_BODY_BYTES = 64 << 20;
    /** One line of a streamed answer (one chunk), at most. */
    private static final int MAX_LINE_BYTES = 16 << 20;
    /** An error answer, at most: what it says goes into the error message. */
    private static final int MAX_ERROR_BYTES = 64 << 10;

    private final UpstreamSettings settings;
    private final Rendezvous rendezvous;
    private final UpstreamTransport http;
    private final PrefixCache prefixes = new PrefixCache(PREFIX_BUDGET_BYTES);
    private final Metrics metrics;

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
        // A request that met a held connection closing under it (the upstream's keep-alive timeout
        // crossing it: UpstreamTransport.Stale) goes out again at once, to the same replica, once a
        // turn, without using an attempt or waiting out a backoff: the upstream most likely never
        // read it.
        boolean staleLeft = true;
        for (int attempt = 0; attempt < attempts; attempt++) {
            if (attempt >= ranked.size()) {
                Thread.sleep(BACKOFF_MILLIS << (attempt - ranked.size()));
            }
            URI base = ranked.get(attempt % ranked.size());
            while (true) {
                ChunkReader reader = new ChunkReader(sink, base.toString());
                try {
                    return exchange(base, body, reader);
                } catch (Retryable e) {
                    if (reader.emitted()) {
                        throw new ModelException(ModelException.Kind.UNAVAILABLE, e.getMessage());
                    }
                    if (e.stale && staleLeft) {
                        staleLeft = false;
                        continue;
                    }
                    LOG.log(
                            System.Logger.Level.WARNING,
                            e.getMessage() + " (attempt " + (attempt + 1) + "/" + attempts + ")");
                    last = new ModelException(ModelException.Kind.UNAVAILABLE, e.getMessage());
                    break;
                }
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
            try {
                response = http.send(
                        at(base, "/chat/completions"),
                        headers,
                        body,
                        settings.firstByteTimeout(),
                        reader::sent,
                        answer -> {
                            // parsed where it arrives: the first fragment reaches the sink with no hand-off
                            if (streamed(answer)) {
                                answer.body()
                                        .lines(MAX_LINE_BYTES, reader::line)
                                        .whenComplete((end, failure) -> reader.ended(ioFailure(failure)));
                            }
                        });
            } catch (UpstreamTransport.Stale e) {
                observe(base, start, "stale");
                throw new Retryable("upstream " + base + " closed a held connection under the request: " + describe(e))
                        .stale();
            } catch (UpstreamTransport.Timeout e) {
                observe(base, start, "timeout");
                throw new Retryable("upstream " + base + " did not answer within "
                        + settings.firstByteTimeout().toSeconds() + " s");
            } catch (IOException e) {
                observe(base, start, "unreachable");
                throw new Retryable("upstream " + base + " is unreachable: " + describe(e));
            }
            observe(base, start, response.status() == 200 ? "ok" : "http_" + response.status());
            try (UpstreamTransport.Body answer = response.body()) {
                return read(base, response, answer, reader);
            } catch (IOException e) {
                throw new Retryable("upstream " + base + " broke the connection: " + describe(e));
            }
        } finally {
            reader.stop(); // before a retry looks at what it emitted: nothing reaches the sink from here on
        }
    }

    /** Whether an answer is a stream of chunks (anything but a whole JSON completion or an error). */
    private static boolean streamed(UpstreamTransport.Answer answer) {
        return answer.status() == 200 && !answer.contentType().startsWith("application/json");
    }

    private void observe(URI replica, long startNanos, String outcome) {
        if (metrics != null) {
            metrics.upstream(replica.toString(), System.nanoTime() - startNanos, outcome);
        }
    }

    private ModelResult read(
            URI base, UpstreamTransport.Answer response, UpstreamTransport.Body body, ChunkReader reader)
            throws IOException, ModelException, InterruptedException, Retryable {
        int status = response.status();
        if (status != 200) {
            String detail = errorDetail(base, body);
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
        if (!streamed(response)) {
            return reader.readWhole(ChatCodec.JSON.readTree(await(body.read(MAX_BODY_BYTES), body, base)));
        }
        return await(reader.outcome(), body, base); // the lines were taken at the head
    }

    /**
     * Waits for {@code result} while the body keeps coming: an upstream that sends nothing for
     * the idle timeout is given up on (a retryable failure).
     */
    private <T> T await(CompletableFuture<T> result, UpstreamTransport.Body body, URI base)
            throws IOException, ModelException, InterruptedException, Retryable {
        long idle = settings.idleTimeout().toNanos();
        while (true) {
            long wait = body.lastActivity() + idle - System.nanoTime();
            if (wait <= 0) {
                throw new Retryable("upstream " + base + " sent nothing for "
                        + settings.idleTimeout().toSeconds() + " s (idle timeout)");
            }
            try {
                return result.get(wait, TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                // bytes may have come meanwhile: the loop looks again
            } catch (ExecutionException e) {
                switch (e.getCause()) {
                    case IOException io -> throw io;
                    case ModelException m -> throw m;
                    case RuntimeException r -> throw r;
                    default -> throw new IllegalStateException(e.getCause());
                }
            }
        }
    }

    /** How a body's end failed, as the reader takes it: null for a clean end. */
    private static IOException ioFailure(Throwable failure) {
        if (failure == null || failure instanceof IOException) {
            return (IOException) failure;
        }
        return new IOException(failure.getMessage() != null ? failure.getMessage() : failure.toString(), failure);
    }

    private String errorDetail(URI base, UpstreamTransport.Body body) throws InterruptedException {
        try {
            String text = new String(await(body.read(MAX_ERROR_BYTES), body, base), StandardCharsets.UTF_8).strip();
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
        } catch (IOException | ModelException | Retryable e) {
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
                try {
                    return models(base);
                } catch (UpstreamTransport.Stale e) {
                    return models(base); // a held connection closed under the request: once more, at once
                }
            } catch (Retryable e) {
                last = e.getMessage();
            } catch (IOException e) {
                last = "upstream " + base + " could not be asked for its models: " + describe(e);
            }
        }
        throw new ModelException(ModelException.Kind.UNAVAILABLE, last + " (check --upstream)");
    }

    /** {@code base}'s list; an answer other than 200 is a {@link Retryable} saying so. */
    private List<ModelInfo> models(URI base) throws IOException, ModelException, InterruptedException, Retryable {
        UpstreamTransport.Answer response =
                http.send(at(base, "/models"), headers("application/json"), null, settings.firstByteTimeout());
        try (UpstreamTransport.Body body = response.body()) {
            if (response.status() != 200) {
                throw new Retryable("upstream " + base + " answered GET /models with HTTP " + response.status() + ": "
                        + errorDetail(base, body));
            }
            List<ModelInfo> out = new ArrayList<>();
            for (var m : ChatCodec.JSON
                    .readTree(await(body.read(MAX_BODY_BYTES), body, base))
                    .path("data")) {
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

    /** A session key only picks the replica and the cached serialization: turns never wait for each other. */
    @Override
    public boolean sessionsRunConcurrently() {
        return true;
    }

    @Override
    public String describe() {
        return "upstream " + settings.replicas();
    }

    @Override
    public void close() {
        http.close(); // drops the connections of exchanges still open
    }

    /** A failure before output, worth another attempt. */
    private static final class Retryable extends Exception {
        private static final long serialVersionUID = 1L;

        /** A held connection closed under the request ({@link UpstreamTransport.Stale}): worth one more at once. */
        private boolean stale;

        Retryable(String message) {
            super(message, null, false, false);
        }

        Retryable stale() {
            stale = true;
            return this;
        }
    }
}
