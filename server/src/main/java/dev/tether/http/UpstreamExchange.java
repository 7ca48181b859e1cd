package dev.tether.http;

import dev.tether.inference.upstream.UpstreamTransport;
import io.vertx.core.http.HttpClientConnection;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.http.HttpVersion;
import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One request and its answer on a connection {@link UpstreamConnections} holds. The connection
 * goes back to its loop's idle ones once the request is written and the answer has arrived whole,
 * unless the upstream said it closes it (Vert.x then closes it itself; it is not given back, so no
 * request can take it before that close is seen). An exchange cut short, by its caller or its
 * body's reader, closes its connection instead: a reset alone does not close a connection whose
 * answer arrived whole while its body was paused, which would then be neither given back nor
 * closed.
 *
 * <p>Confined to the connection's event loop.
 */
final class UpstreamExchange {
    /**
     * A held connection that closes within this long of its request being written closed as the
     * request went out ({@link #stale}): a close sent before the upstream saw the request arrives
     * within a round trip. One that closes later closed on a request it had read.
     */
    private static final long CROSSING_NANOS = TimeUnit.SECONDS.toNanos(1);

    private static final Pattern TIMEOUT = Pattern.compile("(?i)(?:^|[,;\\s])timeout\\s*=\\s*(\\d{1,9})");

    private final UpstreamConnections connections;
    private final UpstreamConnections.Origin origin;
    private HttpClientConnection connection;
    /** Whether {@link #connection} was held idle, having carried an earlier exchange. */
    private boolean held;

    private boolean written;
    /** When the request was written whole ({@link System#nanoTime}). */
    private long writtenAt;

    private HttpClientResponse answered;
    /** Given back, closed or cut: nothing more to do. */
    private boolean over;

    UpstreamExchange(UpstreamConnections connections, UpstreamConnections.Origin origin) {
        this.connections = connections;
        this.origin = origin;
    }

    /** The connection taken for it; false when the exchange was cut meanwhile (it is closed then). */
    boolean taken(UpstreamConnections.Taken taken) {
        this.connection = taken.connection();
        this.held = taken.held();
        if (over) { // only a cut ends an exchange before it has a connection
            connection.close();
            return false;
        }
        return true;
    }

    /** The request is written whole. */
    void written() {
        written = true;
        writtenAt = System.nanoTime();
        done();
    }

    /** The answer has arrived whole. */
    void answered(HttpClientResponse res) {
        answered = res;
        done();
    }

    /**
     * The request failed before its answer's head with {@code failure}: whether that was a held
     * connection closing as the request went out ({@link UpstreamTransport.Stale}), rather than a
     * new one, a bad answer, an upstream that closed it long after reading the request, or the
     * client closing. If so, the connection is closed (it may not know yet).
     */
    boolean stale(Throwable failure) {
        boolean crossing = !written || System.nanoTime() - writtenAt < CROSSING_NANOS;
        if (over
                || !held
                || !crossing
                || connections.closing()
                || !(failure instanceof HttpClosedException || failure instanceof IOException)) {
            return false;
        }
        connection.close();
        return true;
    }

    /** The exchange is not wanted to its end: unless its connection went back already, it is closed. */
    void cut() {
        if (over) {
            return;
        }
        over = true;
        if (connection != null) {
            connection.close();
        }
    }

    private void done() {
        if (over || !written || answered == null) {
            return;
        }
        over = true;
        String said = answered.getHeader("Connection");
        boolean close = said != null
                ? said.toLowerCase(Locale.ROOT).contains("close")
                : answered.version() == HttpVersion.HTTP_1_0;
        if (close) {
            connection.close();
        } else {
            connections.giveBack(origin, connection, keepAliveSeconds(answered.getHeader("Keep-Alive")));
        }
    }

    /** {@code timeout=N} of a {@code Keep-Alive} header, or -1 without one. */
    static long keepAliveSeconds(String header) {
        if (header == null) {
            return -1;
        }
        Matcher m = TIMEOUT.matcher(header);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }
}
