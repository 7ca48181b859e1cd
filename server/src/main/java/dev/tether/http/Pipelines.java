package dev.tether.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.vertx.core.http.HttpConnection;
import java.util.Map;

/**
 * The one place that reaches below Vert.x into a connection's Netty channel. Vert.x has no public
 * hook for four things Tether needs: knowing when a channel closes (its connection close handler
 * does not survive a WebSocket upgrade), settling the HTTP version before Vert.x answers 501
 * ({@link VersionGuard}), checking close frames before Vert.x echoes them ({@link
 * CloseFrameGuard}), and one flush per burst of WebSocket messages. Should a Vert.x release
 * change its connection class, each falls back to Vert.x's own behaviour, and the failure is
 * logged once; tests (ConnectionLimitsTest, HttpHygieneTest, WebSocketProtocolTest,
 * FlushConsolidationTest) notice.
 *
 * <p>Stateless; call on the connection's event loop.
 */
final class Pipelines {
    private static final System.Logger LOG = System.getLogger(Pipelines.class.getName());
    private static final String FLUSHES = "tether-flushes";
    private static volatile boolean warned;

    private Pipelines() {}

    /** The connection's channel, or null when Vert.x does not expose it. */
    private static Channel channel(HttpConnection conn) {
        if (conn instanceof io.vertx.core.net.impl.ConnectionBase base) {
            return base.channel();
        }
        if (!warned) {
            warned = true;
            LOG.log(
                    System.Logger.Level.WARNING,
                    "cannot reach the Netty channel of " + conn.getClass()
                            + ": closed WebSockets may keep their connection slot, and HTTP versions and close codes"
                            + " are left to Vert.x");
        }
        return null;
    }

    /** Runs {@code action} once the connection's channel has closed. */
    static void onClose(HttpConnection conn, Runnable action) {
        Channel channel = channel(conn);
        if (channel != null) {
            channel.closeFuture().addListener(f -> action.run());
        } else {
            conn.closeHandler(v -> action.run());
        }
    }

    /** Puts a {@link VersionGuard} right behind the connection's HTTP decoder. */
    static void guardVersions(HttpConnection conn) {
        Channel channel = channel(conn);
        if (channel != null
                && channel.pipeline().get("httpDecoder") != null
                && channel.pipeline().get(VersionGuard.NAME) == null) {
            channel.pipeline().addAfter("httpDecoder", VersionGuard.NAME, new VersionGuard());
        }
    }

    /**
     * Readies an upgraded WebSocket connection: a {@link CloseFrameGuard} behind its frame decoder,
     * and Netty's {@link FlushConsolidationHandler} in front of Vert.x's handler. Vert.x flushes
     * every message it is given outside a read, so a burst of N small events (a batch of token
     * deltas) cost N system calls; consolidated, the messages written in one event-loop task leave
     * in one flush when the task is done.
     */
    static void upgraded(HttpConnection conn) {
        Channel channel = channel(conn);
        if (channel == null) {
            return;
        }
        CloseFrameGuard.install(channel.pipeline());
        if (channel.pipeline().get(FLUSHES) != null) {
            return;
        }
        for (Map.Entry<String, ChannelHandler> e : channel.pipeline()) {
            if (e.getValue() instanceof io.vertx.core.net.impl.VertxHandler) {
                channel.pipeline()
                        .addBefore(
                                e.getKey(),
                                FLUSHES,
                                new FlushConsolidationHandler(
                                        FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true));
                return;
            }
        }
    }
}
