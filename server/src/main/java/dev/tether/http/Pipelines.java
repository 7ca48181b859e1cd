package dev.tether.http;

import io.netty.channel.Channel;
import io.vertx.core.http.HttpConnection;

/**
 * The one place that reaches below Vert.x into a connection's Netty channel. Vert.x has no public
 * hook for three things Tether needs: knowing when a channel closes (its connection close handler
 * does not survive a WebSocket upgrade), settling the HTTP version before Vert.x answers 501
 * ({@link VersionGuard}), and checking close frames before Vert.x echoes them ({@link
 * CloseFrameGuard}). Should a Vert.x release change its connection class, each falls back to
 * Vert.x's own behaviour, and the failure is logged once; tests (ConnectionLimitsTest,
 * HttpHygieneTest, WebSocketProtocolTest) notice.
 *
 * <p>Stateless; call on the connection's event loop.
 */
final class Pipelines {
    private static final System.Logger LOG = System.getLogger(Pipelines.class.getName());
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

    /** Puts a {@link CloseFrameGuard} behind an upgraded connection's WebSocket frame decoder. */
    static void guardCloseFrames(HttpConnection conn) {
        Channel channel = channel(conn);
        if (channel != null) {
            CloseFrameGuard.install(channel.pipeline());
        }
    }
}
