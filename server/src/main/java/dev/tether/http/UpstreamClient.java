package dev.tether.http;

import dev.tether.inference.upstream.UpstreamTransport;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The upstream transport on Vert.x's HTTP client. It replaced the JDK's {@code HttpClient},
 * whose asynchronous pipeline cost more CPU per request than the rest of a turn's set-up and
 * handed every body chunk through two more threads (docs/benchmarks.md, gateway overhead).
 *
 * <p>{@code https://} upstreams get TLS with the JVM's trusted certificates, host name
 * verification, and the host name sent (SNI) for fully qualified names, as the JDK client did.
 *
 * <p>It has its own Vert.x instance with one event loop, closed with the model backend: the
 * response service ends the runs still streaming at shutdown before their connections go,
 * after the HTTP API has stopped.
 *
 * <p>Thread-safe.
 */
public final class UpstreamClient implements UpstreamTransport {
    /** Body bytes queued for a slow reader before the connection is paused, and resumed below. */
    private static final int HIGH_WATER = 1 << 20;

    private static final int LOW_WATER = 256 << 10;
    /** Connections per upstream: a turn holds one for its whole answer, so this is the turn limit. */
    private static final int MAX_CONNECTIONS = 4096;

    private final Vertx vertx;
    private final HttpClient client;
    /**
     * Where every request starts. Started from the caller's thread, the callbacks were attached
     * there too; a caller descheduled between the two calls attached them to a future that had
     * already completed, so they ran as a later task, by when a small body had ended: Vert.x then
     * refuses the body handlers and the answer never came (seen once in CI as a 10 s timeout on
     * {@code GET /v1/models}). Started on the loop, the callbacks are in place before any reply.
     */
    private final Context context;

    private UpstreamClient(Vertx vertx, HttpClient client) {
        this.vertx = vertx;
        this.client = client;
        this.context = vertx.getOrCreateContext();
    }

    public static UpstreamTransport create(Duration connectTimeout) {
        Vertx vertx = Vertx.vertx(
                new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1).setInternalBlockingPoolSize(1));
        HttpClient client = vertx.createHttpClient(
                new HttpClientOptions()
                        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()))
                        .setKeepAlive(true)
                        .setMaxInitialLineLength(16_384),
                new PoolOptions().setHttp1MaxSize(MAX_CONNECTIONS));
        return new UpstreamClient(vertx, client);
    }

    @Override
    public Answer send(URI uri, Map<String, String> headers, byte[] body, Duration headTimeout, Runnable meanwhile)
            throws IOException, InterruptedException {
        RequestOptions options = new RequestOptions()
                .setAbsoluteURI(uri.toString())
                .setMethod(body == null ? HttpMethod.GET : HttpMethod.POST);
        headers.forEach(options::putHeader);
        CompletableFuture<Answer> head = new CompletableFuture<>();
        // Completes once the request is written (or could not be): what the caller does meanwhile
        // starts only after that, so it does not compete with the write for the core.
        CompletableFuture<Void> out = new CompletableFuture<>();
        AtomicReference<HttpClientRequest> request = new AtomicReference<>();
        long deadline = System.nanoTime() + headTimeout.toNanos();
        context.runOnContext(v -> client.request(options)
                .compose(req -> {
                    request.set(req);
                    (body == null ? req.end() : req.end(Buffer.buffer(body))).onComplete(w -> out.complete(null));
                    return req.response();
                })
                .onComplete(ar -> {
                    out.complete(null);
                    if (ar.failed()) {
                        head.completeExceptionally(ar.cause());
                        return;
                    }
                    HttpClientResponse res = ar.result();
                    String type = res.getHeader("Content-Type");
                    if (!head.complete(new Answer(res.statusCode(), type == null ? "" : type, new Body(res)))) {
                        res.request().reset(); // the caller gave up already
                    }
                }));
        try {
            out.get(headTimeout.toNanos(), TimeUnit.NANOSECONDS); // completes normally, never with a failure
            meanwhile.run();
            return head.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            abandon(head, request);
            throw new Timeout("no answer from " + uri + " within " + headTimeout.toMillis() + " ms");
        } catch (InterruptedException | RuntimeException e) {
            abandon(head, request);
            throw e;
        } catch (ExecutionException e) {
            throw asIOException(e.getCause());
        }
    }

    /** The caller stops waiting: the request is reset, or the answer that just came closed. */
    private static void abandon(CompletableFuture<Answer> head, AtomicReference<HttpClientRequest> request) {
        if (!head.cancel(false) && !head.isCompletedExceptionally()) {
            try {
                head.join().body().close();
            } catch (IOException | RuntimeException ignored) {
                // closing resets the connection; nothing to report to a caller that left
            }
        }
        HttpClientRequest req = request.get();
        if (req != null) {
            req.reset();
        }
    }

    private static IOException asIOException(Throwable cause) {
        if (cause instanceof IOException io) {
            return io;
        }
        String message = cause.getMessage() != null
                ? cause.getMessage()
                : cause.getClass().getSimpleName();
        return new IOException(message, cause);
    }

    @Override
    public void close() {
        try {
            vertx.close().await(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            // connections are dropped either way; shutdown must not hang on them
        }
    }

    /**
     * An answer's body as a blocking stream, fed by the event loop. Chunks queue up to
     * {@link #HIGH_WATER} bytes, then the connection is paused until the reader catches up.
     */
    private static final class Body extends InputStream {
        private final HttpClientResponse res;
        private final Context context;
        private final ReentrantLock lock = new ReentrantLock();
        private final Condition ready = lock.newCondition();
        private final ArrayDeque<Buffer> chunks = new ArrayDeque<>();
        private int offset;
        private long queued;
        private boolean paused;
        private boolean ended;
        private boolean closed;
        private Throwable failure;

        /** On the event loop, before any of the body arrives. */
        Body(HttpClientResponse res) {
            this.res = res;
            this.context = Vertx.currentContext();
            res.handler(this::arrived);
            res.exceptionHandler(this::ended);
            res.endHandler(v -> ended(null));
        }

        private void arrived(Buffer chunk) {
            lock.lock();
            try {
                if (closed) {
                    return;
                }
                chunks.add(chunk);
                queued += chunk.length();
                if (queued > HIGH_WATER && !paused) {
                    paused = true;
                    res.pause();
                }
                ready.signal();
            } finally {
                lock.unlock();
            }
        }

        /** The end of the body (null) or a broken connection. */
        private void ended(Throwable cause) {
            lock.lock();
            try {
                if (!ended && failure == null) {
                    if (cause == null) {
                        ended = true;
                    } else {
                        failure = cause;
                    }
                }
                ready.signal();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] dst, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, dst.length);
            if (len == 0) {
                return 0;
            }
            int n;
            boolean resume = false;
            lock.lock();
            try {
                while (chunks.isEmpty()) {
                    if (closed) {
                        throw new IOException("the body was closed");
                    }
                    if (failure != null) {
                        throw asIOException(failure);
                    }
                    if (ended) {
                        return -1;
                    }
                    try {
                        ready.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new InterruptedIOException("interrupted while waiting for the upstream");
                    }
                }
                Buffer first = chunks.peekFirst();
                n = Math.min(len, first.length() - offset);
                first.getBytes(offset, offset + n, dst, off);
                offset += n;
                queued -= n;
                if (offset == first.length()) {
                    chunks.pollFirst();
                    offset = 0;
                }
                if (paused && queued < LOW_WATER) {
                    paused = false;
                    resume = true;
                }
            } finally {
                lock.unlock();
            }
            if (resume) {
                context.runOnContext(v -> res.resume());
            }
            return n;
        }

        /** Before the end, the connection is reset: it cannot carry another request. */
        @Override
        public void close() {
            boolean early;
            lock.lock();
            try {
                if (closed) {
                    return;
                }
                closed = true;
                early = !ended && failure == null;
                chunks.clear();
                queued = 0;
                ready.signalAll();
            } finally {
                lock.unlock();
            }
            if (early) {
                context.runOnContext(v -> res.request().reset());
            }
        }
    }
}
