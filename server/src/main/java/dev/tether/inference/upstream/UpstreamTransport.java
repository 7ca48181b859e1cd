package dev.tether.inference.upstream;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.Map;

/**
 * One HTTP/1.1 exchange with an upstream, for {@link UpstreamBackend}: the request goes out, the
 * caller's (virtual) thread waits for the answer's head, then reads the body as a stream. The
 * implementation lives with the rest of the HTTP stack ({@code dev.tether.http}).
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
        return send(uri, headers, body, headTimeout, () -> {});
    }

    /**
     * {@link #send(URI, Map, byte[], Duration)}, running {@code meanwhile} on the caller's thread
     * once the request is on its way and before waiting for the head: work that can overlap the
     * upstream's. An exception from it abandons the request and propagates.
     */
    Answer send(URI uri, Map<String, String> headers, byte[] body, Duration headTimeout, Runnable meanwhile)
            throws IOException, InterruptedException;

    /** Closes every connection; exchanges still open fail. */
    @Override
    void close();

    /**
     * An answer's head and its body. Reading the body blocks until bytes arrive; an interrupt
     * ends the read with an {@link java.io.InterruptedIOException} and leaves the thread
     * interrupted. Closing the body before its end drops the connection.
     *
     * @param contentType the {@code Content-Type} header, or "" without one
     */
    record Answer(int status, String contentType, InputStream body) {}

    /** The answer's head did not arrive within the time allowed. */
    final class Timeout extends IOException {
        private static final long serialVersionUID = 1L;

        public Timeout(String message) {
            super(message);
        }
    }
}
