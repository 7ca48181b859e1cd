package dev.tether.http;

import dev.tether.inference.upstream.UpstreamTransport;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.parsetools.RecordParser;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The upstream transport on Vert.x's HTTP client. It replaced the JDK's {@code HttpClient},
 * whose asynchronous pipeline cost more CPU per request than the rest of a turn's set-up and
 * handed every body chunk through two more threads (docs/benchmarks.md, gateway overhead).
 *
 * <p>{@code https://} upstreams get TLS with the JVM's trusted certificates, host name
 * verification, and the host name sent (SNI) for fully qualified names, as the JDK client did.
 *
 * <p>It runs on the node's {@link EventLoops}, and is closed with the model backend: the response
 * service ends the runs still streaming at shutdown before their connections go, after the HTTP
 * API has stopped. A request is sent from the loop its caller was started from ({@link
 * EventLoops#home}: the loop a response's request came in on), so the answer is read where its
 * events are written to the client; a caller started elsewhere takes the loops in turn. Either
 * way a turn's answer is parsed on the loop its request started on, and many concurrent turns are
 * not bound to one thread. Each loop holds its own idle connections ({@link UpstreamConnections}),
 * and a request takes one there rather than through Vert.x's pool.
 *
 * <p>Thread-safe.
 */
public final class UpstreamClient implements UpstreamTransport {
    /** How long an idle connection is kept for the next request: Vert.x's pool's default. */
    static final Duration KEEP_ALIVE = Duration.ofSeconds(60);

    private final EventLoops loops;
    private final UpstreamConnections connections;

    private UpstreamClient(EventLoops loops, UpstreamConnections connections) {
        this.loops = loops;
        this.connections = connections;
    }

    /** A client on {@code loops}, which must outlive it. */
    public static UpstreamClient create(EventLoops loops, Duration connectTimeout) {
        return create(loops, connectTimeout, KEEP_ALIVE, UpstreamConnections.MAX_OPEN);
    }

    /** Tests: {@code keepAlive} and {@code maxOpen} in place of the defaults. */
    static UpstreamClient create(EventLoops loops, Duration connectTimeout, Duration keepAlive, int maxOpen) {
        HttpClientAgent agent = loops.vertx()
                .createHttpClient(new HttpClientOptions()
                        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()))
                        .setKeepAlive(true)
                        .setMaxInitialLineLength(16_384));
        return new UpstreamClient(loops, new UpstreamConnections(loops.vertx(), agent, keepAlive, maxOpen));
    }

    /** How many connections to upstreams are open, idle or in use (for {@code /metrics}). */
    public int openConnections() {
        return connections.open();
    }

    @Override
    public Answer send(
            URI uri,
            Map<String, String> headers,
            byte[] body,
            Duration headTimeout,
            Runnable meanwhile,
            Consumer<Answer> atHead)
            throws IOException, InterruptedException {
        if (Context.isOnEventLoopThread()) {
            // It waits for the answer's head, and on a loop it would wait for its own loop.
            throw new IllegalStateException("an upstream request must not be sent from an event loop");
        }
        UpstreamConnections.Origin origin;
        try {
            origin = UpstreamConnections.Origin.of(uri);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
        RequestOptions options = new RequestOptions()
                .setMethod(body == null ? HttpMethod.GET : HttpMethod.POST)
                .setHost(uri.getHost()) // for the Host header: an IPv6 literal keeps its brackets
                .setPort(origin.port())
                .setURI(pathAndQuery(uri));
        headers.forEach(options::putHeader);
        CompletableFuture<Answer> head = new CompletableFuture<>();
        // Completes once the request is written (or could not be): what the caller does meanwhile
        // starts only after that, so it does not compete with the write for the core.
        CompletableFuture<Void> out = new CompletableFuture<>();
        long deadline = System.nanoTime() + headTimeout.toNanos();
        // Sent from a loop (the caller's home, else the next), so the callbacks are in place before
        // any reply, and the connection is one that loop holds.
        Context loop = loops.forCaller();
        UpstreamExchange exchange = new UpstreamExchange(connections, origin);
        loop.runOnContext(v -> head(origin, options, body, exchange, out).onComplete(ar -> {
            out.complete(null);
            if (ar.failed()) {
                head.completeExceptionally(ar.cause());
                return;
            }
            HttpClientResponse res = ar.result();
            String type = res.getHeader("Content-Type");
            Answer answer = new Answer(res.statusCode(), type == null ? "" : type, new Body(res, exchange));
            try {
                atHead.accept(answer);
            } catch (RuntimeException e) { // it must not throw; if it does, the caller hears of it
                answer.body().close();
                head.completeExceptionally(e);
                return;
            }
            if (!head.complete(answer)) {
                answer.body().close(); // the caller gave up already
            }
        }));
        try {
            out.get(headTimeout.toNanos(), TimeUnit.NANOSECONDS); // completes normally, never with a failure
            meanwhile.run();
            return head.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            abandon(loop, exchange, head);
            throw new Timeout("no answer from " + uri + " within " + headTimeout.toMillis() + " ms");
        } catch (InterruptedException | RuntimeException e) {
            abandon(loop, exchange, head);
            throw e;
        } catch (ExecutionException e) {
            throw asIOException(e.getCause());
        }
    }

    /**
     * On a loop: the request on a connection it holds, else on a new one; its answer's head. A held
     * connection that closes as the request goes out, before that head, fails it with {@link
     * UpstreamTransport.Stale}, and the loop's other idle connections to that upstream are closed.
     */
    private Future<HttpClientResponse> head(
            UpstreamConnections.Origin origin,
            RequestOptions options,
            byte[] body,
            UpstreamExchange exchange,
            CompletableFuture<Void> out) {
        return connections
                .take(origin)
                .compose(taken -> exchange.taken(taken)
                        ? taken.connection().request(options)
                        : Future.failedFuture(new IOException("the request was abandoned")))
                .compose(req -> {
                    (body == null ? req.end() : req.end(Buffer.buffer(body))).onComplete(w -> {
                        out.complete(null);
                        if (w.succeeded()) {
                            exchange.written();
                        }
                    });
                    return req.response();
                })
                .recover(failure -> {
                    if (!exchange.stale(failure)) {
                        return Future.failedFuture(failure);
                    }
                    connections.dropIdle(origin);
                    return Future.failedFuture(new UpstreamTransport.Stale(
                            "a held connection closed before any answer: " + describe(failure), failure));
                });
    }

    private static String describe(Throwable failure) {
        return failure.getMessage() != null
                ? failure.getMessage()
                : failure.getClass().getSimpleName();
    }

    private static String pathAndQuery(URI uri) {
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        return uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery();
    }

    /**
     * The caller stops waiting: the answer that just came is closed, and the exchange cut (its
     * connection closed, made or not yet).
     */
    private static void abandon(Context loop, UpstreamExchange exchange, CompletableFuture<Answer> head) {
        if (!head.cancel(false) && !head.isCompletedExceptionally()) {
            head.join().body().close();
        }
        loop.runOnContext(v -> exchange.cut());
    }

    private static IOException asIOException(Throwable cause) {
        return cause instanceof IOException io ? io : new IOException(describe(cause), cause);
    }

    @Override
    public void close() {
        try {
            connections.close().await(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            // connections are dropped either way (at the latest with the loops); shutdown must not hang on them
        }
    }

    /**
     * An answer's body, paused until its reader says how it takes it ({@link #read} or
     * {@link #lines}); from then on every chunk is handled where it arrives, on the event loop.
     */
    private static final class Body implements UpstreamTransport.Body {
        private final HttpClientResponse res;
        private final Context context;
        private volatile long lastActivity = System.nanoTime();
        private volatile boolean closed;
        // on the event loop:
        private Handler<Buffer> data;
        private Handler<Throwable> end;
        private boolean ended;
        private Throwable failure;

        /** Told when the body has arrived whole, or is not wanted. */
        private final UpstreamExchange exchange;

        /** On the event loop, before any of the body arrives. */
        Body(HttpClientResponse res, UpstreamExchange exchange) {
            this.res = res;
            this.exchange = exchange;
            this.context = Vertx.currentContext();
            res.pause();
            res.handler(chunk -> {
                lastActivity = System.nanoTime();
                if (!closed) {
                    data.handle(chunk);
                }
            });
            res.exceptionHandler(this::ended);
            res.endHandler(v -> ended(null));
        }

        /** The end of the body (null) or a broken connection, whichever comes first. */
        private void ended(Throwable cause) {
            if (ended) {
                return;
            }
            ended = true;
            failure = cause;
            if (cause == null) {
                exchange.answered(res);
            }
            if (end != null) {
                end.handle(cause);
            }
        }

        @Override
        public long lastActivity() {
            return lastActivity;
        }

        @Override
        public CompletableFuture<byte[]> read(int maxBytes) {
            CompletableFuture<byte[]> whole = new CompletableFuture<>();
            Buffer acc = Buffer.buffer();
            take(
                    whole,
                    chunk -> {
                        if (acc.length() + chunk.length() > maxBytes) {
                            whole.completeExceptionally(new IOException("the answer is over " + maxBytes + " bytes"));
                            drop();
                        } else {
                            acc.appendBuffer(chunk);
                        }
                    },
                    cause -> {
                        if (cause == null) {
                            whole.complete(acc.getBytes());
                        } else {
                            whole.completeExceptionally(asIOException(cause));
                        }
                    });
            return whole;
        }

        @Override
        public CompletableFuture<Void> lines(int maxLine, Consumer<byte[]> lines) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            RecordParser parser = RecordParser.newDelimited("\n", record -> {
                int n = record.length();
                if (n > 0 && record.getByte(n - 1) == '\r') {
                    n--;
                }
                lines.accept(record.getBytes(0, n));
            });
            parser.maxRecordSize(maxLine);
            parser.exceptionHandler(t -> {
                done.completeExceptionally(new IOException("a line of the answer is over " + maxLine + " bytes"));
                drop();
            });
            boolean[] open = {false}; // whether the last byte so far ended a line
            take(
                    done,
                    chunk -> {
                        if (chunk.length() > 0) {
                            open[0] = chunk.getByte(chunk.length() - 1) != '\n';
                            parser.handle(chunk);
                        }
                    },
                    cause -> {
                        if (cause != null) {
                            done.completeExceptionally(asIOException(cause));
                            return;
                        }
                        if (open[0]) {
                            parser.handle(Buffer.buffer("\n")); // a last line without its end is a line
                        }
                        done.complete(null);
                    });
            return done;
        }

        /**
         * Starts the body's flow into {@code onData}, and {@code onEnd} after it (once): at once on
         * the event loop (from {@code atHead}), else as its next task.
         */
        private void take(CompletableFuture<?> result, Handler<Buffer> onData, Handler<Throwable> onEnd) {
            if (Vertx.currentContext() == context) {
                start(result, onData, onEnd);
            } else {
                context.runOnContext(v -> start(result, onData, onEnd));
            }
        }

        private void start(CompletableFuture<?> result, Handler<Buffer> onData, Handler<Throwable> onEnd) {
            if (data != null || closed) {
                result.completeExceptionally(
                        data != null
                                ? new IllegalStateException("the body was taken already")
                                : new IOException("the body was closed"));
                return;
            }
            data = onData;
            end = cause -> {
                if (!result.isDone()) {
                    onEnd.handle(cause);
                }
            };
            res.resume(); // hands on what came before (queued while paused)
            if (ended) {
                // the connection broke while the body was paused: its failure comes after the
                // chunks that did arrive, which resume's own task hands on first
                Throwable cause = failure;
                context.runOnContext(v -> end.handle(cause));
            }
        }

        /** On the event loop: the rest of the body is not wanted. */
        private void drop() {
            closed = true;
            exchange.cut(); // closes the connection, unless it went back whole already
        }

        /** Before the end, the connection is closed: it cannot carry another request. */
        @Override
        public void close() {
            if (!closed) {
                closed = true;
                context.runOnContext(v -> drop());
            }
        }
    }
}
