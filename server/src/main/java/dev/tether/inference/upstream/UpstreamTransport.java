package dev.tether.inference.upstream;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * One HTTP/1.1 exchange with an upstream, for {@link UpstreamBackend}: the request goes out, the
 * caller's (virtual) thread waits for the answer's head, then takes the body whole or has its
 * lines handed on as they arrive. The implementation lives with the rest of the HTTP stack
 * ({@code dev.tether.http}).
 *
 * <p>Thread-safe.
 */
public interface UpstreamTransport extends AutoCloseable {

    /**
     * Sends a request and waits for the answer's status and headers.
     *
     * @param body        the POST body, or null for a GET
     * @param headTimeout how long to wait for the head (a long prompt's prefill counts here)
     * @throws Timeout              when the head did not arrive in time
     * @throws IOException          when the upstream cannot be reached or drops the connection
     * @throws InterruptedException when the caller is interrupted (the request is abandoned)
     */
    default Answer send(URI uri, Map<String, String> headers, byte[] body, Duration headTimeout)
            throws IOException, InterruptedException {
        return send(uri, headers, body, headTimeout, () -> {}, answer -> {});
    }

    /**
     * {@link #send(URI, Map, byte[], Duration)}, with two hooks:
     *
     * <ul>
     *   <li>{@code meanwhile} runs on the caller's thread once the request is on its way and
     *       before waiting for the head: work that can overlap the upstream's. An exception from
     *       it abandons the request and propagates.
     *   <li>{@code atHead} runs on the transport's thread when the head arrives, before any of
     *       the body is handed on and before the caller wakes: a caller that takes the body there
     *       ({@link Body#lines}) gets its first bytes without a hand-off to its own thread. It
     *       must neither block nor throw; when the caller has given up by then, the body is closed
     *       after it.
     * </ul>
     */
    Answer send(
            URI uri,
            Map<String, String> headers,
            byte[] body,
            Duration headTimeout,
            Runnable meanwhile,
            Consumer<Answer> atHead)
            throws IOException, InterruptedException;

    /** Closes every connection; exchanges still open fail. */
    @Override
    void close();

    /**
     * An answer's head and its body.
     *
     * @param contentType the {@code Content-Type} header, or "" without one
     */
    record Answer(int status, String contentType, Body body) {}

    /**
     * An answer's body, taken one of two ways: whole ({@link #read}), or line by line as it
     * arrives ({@link #lines}). Either way nothing queues up unread: a whole body is bounded, and
     * lines are handed on as they come. Closing a body before its end drops the connection.
     */
    interface Body extends AutoCloseable {

        /**
         * The whole body; fails with an {@link IOException} when the connection breaks or the
         * body is over {@code maxBytes} (the connection is then dropped).
         */
        CompletableFuture<byte[]> read(int maxBytes);

        /**
         * Hands the body's lines (their UTF-8 bytes, without their {@code \n} or {@code \r\n}; a
         * last line without its end counts) to {@code lines} as they arrive. The calls come in order, one
         * at a time, on the transport's own thread: {@code lines} must neither block nor throw.
         * Completes at the body's end; fails with an {@link IOException} when the connection
         * breaks or a line is over {@code maxLine} bytes.
         */
        CompletableFuture<Void> lines(int maxLine, Consumer<byte[]> lines);

        /** {@link System#nanoTime()} when the last bytes of the body arrived (or the head did). */
        long lastActivity();

        /** Before the end, drops the connection: it cannot carry another request. Idempotent. */
        @Override
        void close();
    }

    /**
     * The request went out on a connection held from an earlier exchange, and that connection
     * closed before any of the answer came and within a second of the request being written: most
     * likely the upstream closed it idle as the request left (its keep-alive timeout crossing the
     * request), and never read it.
     */
    final class Stale extends IOException {
        private static final long serialVersionUID = 1L;

        public Stale(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The answer's head did not arrive within the time allowed. */
    final class Timeout extends IOException {
        private static final long serialVersionUID = 1L;

        public Timeout(String message) {
            super(message);
        }
    }
}
