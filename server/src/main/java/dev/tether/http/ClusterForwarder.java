package dev.tether.http;

import dev.tether.cluster.OwnerLease;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketBase;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Cluster mode: sends requests for the stateful services (sessions, responses, conversations) to
 * the node that owns them ({@link OwnerLease}), HTTP and WebSocket alike, streaming bodies and
 * frames through unbuffered, so a client may talk to any node behind a plain load balancer.
 * Authentication, validation and errors are the owner's: this node passes the request on as it
 * came (plus {@code X-Forwarded-For}) and the answer back as it went.
 *
 * <p>Thread-safety: called on event loops; the clients are Vert.x's (thread-safe).
 */
final class ClusterForwarder {
    private static final Set<String> HOP_BY_HOP = Set.of(
            "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host");
    /** Marks a request one node already forwarded: a second hop means the nodes disagree on the owner. */
    static final String FORWARDED_BY = "X-Tether-Forwarded-By";

    private final Supplier<OwnerLease.Route> owner;
    private final HttpClient http;
    private final WebSocketClient sockets;

    ClusterForwarder(Vertx vertx, Supplier<OwnerLease.Route> owner) {
        this.owner = owner;
        this.http = vertx.createHttpClient(
                new HttpClientOptions().setKeepAlive(true).setMaxInitialLineLength(16_384),
                new PoolOptions().setHttp1MaxSize(256));
        this.sockets = vertx.createWebSocketClient(
                new WebSocketClientOptions().setMaxFrameSize(1 << 24).setMaxMessageSize(1 << 26));
    }

    /** False when this node serves the request itself; otherwise it has been (or is being) answered. */
    boolean forward(HttpServerRequest req) {
        switch (owner.get()) {
            case OwnerLease.Route.Local l -> {
                return false;
            }
            case OwnerLease.Route.Unavailable u ->
                throw Refusal.of(Condition.UNAVAILABLE, "owner_unavailable", u.reason());
            case OwnerLease.Route.Forward f -> {
                if (req.getHeader(FORWARDED_BY) != null) {
                    throw Refusal.of(
                            Condition.UNAVAILABLE,
                            "owner_unavailable",
                            "the nodes disagree on who owns the sessions (an owner change is under way); retry");
                }
                if ("websocket".equalsIgnoreCase(req.getHeader(HttpHeaders.UPGRADE))) {
                    socket(req, f.url());
                } else {
                    request(req, f.url());
                }
                return true;
            }
        }
    }

    private void request(HttpServerRequest req, String ownerUrl) {
        req.pause();
        RequestOptions options = new RequestOptions()
                .setAbsoluteURI(ownerUrl + req.uri())
                .setMethod(req.method())
                .setHeaders(forwardedHeaders(req));
        http.request(options)
                .compose(out -> {
                    if (req.headers().contains(HttpHeaders.CONTENT_LENGTH)) {
                        out.putHeader(HttpHeaders.CONTENT_LENGTH, req.getHeader(HttpHeaders.CONTENT_LENGTH));
                    } else {
                        out.setChunked(true);
                    }
                    return out.send(req);
                })
                .onSuccess(answer -> relay(answer, req.response()))
                .onFailure(e -> unreachable(req, ownerUrl, e));
    }

    private static void relay(HttpClientResponse answer, HttpServerResponse res) {
        res.setStatusCode(answer.statusCode());
        res.setStatusMessage(answer.statusMessage());
        answer.headers().forEach((name, value) -> {
            if (!HOP_BY_HOP.contains(name.toLowerCase(Locale.ROOT))) {
                res.headers().add(name, value);
            }
        });
        if (!answer.headers().contains(HttpHeaders.CONTENT_LENGTH)) {
            res.setChunked(true);
        }
        // By hand rather than pipeTo: a client that goes away mid-stream (an SSE reader cut off)
        // must end the owner's request too, not fail a write into a closed response.
        res.closeHandler(v -> answer.request().reset());
        res.drainHandler(v -> answer.resume());
        answer.handler(chunk -> {
            if (res.closed()) {
                return;
            }
            res.write(chunk);
            if (res.writeQueueFull()) {
                answer.pause();
            }
        });
        answer.exceptionHandler(e -> res.reset());
        answer.endHandler(v -> {
            if (!res.closed() && !res.ended()) {
                res.end();
            }
        });
    }

    private void socket(HttpServerRequest req, String ownerUrl) {
        req.pause();
        WebSocketConnectOptions options = new WebSocketConnectOptions()
                .setAbsoluteURI(ownerUrl.replaceFirst("^http", "ws") + req.uri())
                .setHeaders(forwardedHeaders(req)
                        .remove("Sec-WebSocket-Key")
                        .remove("Sec-WebSocket-Version")
                        .remove("Sec-WebSocket-Extensions"));
        sockets.connect(options)
                .onSuccess(upstream -> {
                    // The owner may speak first (its hello): hold its frames until they have somewhere
                    // to go, or they would be dropped before the client's side of the splice exists.
                    upstream.pause();
                    req.toWebSocket()
                            .onSuccess(downstream -> {
                                splice(downstream, upstream);
                                upstream.resume();
                            })
                            .onFailure(e -> upstream.close());
                })
                .onFailure(e -> {
                    if (e instanceof UpgradeRejectedException rejected) {
                        // The owner refused the upgrade (401, 403, 404…): the client gets its answer.
                        req.response().setStatusCode(rejected.getStatus());
                        if (rejected.getHeaders() != null) {
                            rejected.getHeaders().forEach((name, value) -> {
                                if (!HOP_BY_HOP.contains(name.toLowerCase(Locale.ROOT))) {
                                    req.response().headers().add(name, value);
                                }
                            });
                        }
                        req.response()
                                .end(
                                        rejected.getBody() == null
                                                ? io.vertx.core.buffer.Buffer.buffer()
                                                : rejected.getBody());
                    } else {
                        unreachable(req, ownerUrl, e);
                    }
                });
    }

    /** Frames go through as they are, both ways; a close on one side closes the other with its code. */
    private static void splice(io.vertx.core.http.ServerWebSocket client, WebSocket owner) {
        relayFrames(client, owner);
        relayFrames(owner, client);
        client.closeHandler(v -> owner.close(
                client.closeStatusCode() == null ? (short) 1000 : client.closeStatusCode(), client.closeReason()));
        owner.closeHandler(v -> client.close(
                owner.closeStatusCode() == null ? (short) 1000 : owner.closeStatusCode(), owner.closeReason()));
        client.exceptionHandler(e -> owner.close());
        owner.exceptionHandler(e -> client.close());
    }

    /**
     * Data frames from {@code from} to {@code to}, pausing {@code from} while {@code to}'s write
     * queue is full: a slow client slows the owner's socket down (where the owner's own
     * slow-consumer policy applies) instead of piling frames up in this node's memory. Frames for
     * a side that has closed are dropped: its close handler is closing the other side.
     */
    private static void relayFrames(WebSocketBase from, WebSocketBase to) {
        to.drainHandler(v -> from.resume());
        from.frameHandler(f -> {
            if (to.isClosed() || !(f.isText() || f.isBinary() || f.isContinuation())) {
                return;
            }
            to.writeFrame(f);
            if (to.writeQueueFull()) {
                from.pause();
            }
        });
    }

    private static MultiMap forwardedHeaders(HttpServerRequest req) {
        MultiMap headers = MultiMap.caseInsensitiveMultiMap();
        req.headers().forEach((name, value) -> {
            if (!HOP_BY_HOP.contains(name.toLowerCase(Locale.ROOT))) {
                headers.add(name, value);
            }
        });
        String from = req.remoteAddress() == null ? null : req.remoteAddress().hostAddress();
        if (from != null) {
            String before = req.getHeader("X-Forwarded-For");
            headers.set("X-Forwarded-For", before == null ? from : before + ", " + from);
        }
        headers.set(FORWARDED_BY, "1");
        return headers;
    }

    private static void unreachable(HttpServerRequest req, String ownerUrl, Throwable e) {
        if (req.response().headWritten()) {
            req.response().reset();
            return;
        }
        HttpRoutes.fail(
                req,
                Refusal.of(
                        Condition.UNAVAILABLE,
                        "owner_unavailable",
                        "the node that owns the sessions (" + ownerUrl + ") did not answer: " + e.getMessage()
                                + "; retry (if it died, another node takes over within "
                                + OwnerLease.TTL_MILLIS / 1000 + " s)"));
    }

    /** Closes its clients (with the HTTP API: the event loops they run on outlive it). */
    void close() {
        try {
            http.close().await(5, TimeUnit.SECONDS);
            sockets.close().await(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            // their connections go with the event loops at the latest
        }
    }
}
