package dev.tether.http;

import dev.tether.auth.Principal;
import dev.tether.errors.Refusal;
import dev.tether.responses.ResponseService;
import dev.tether.responses.SocketSession;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import java.time.Duration;
import java.time.InstantSource;

/**
 * The Responses WebSocket mode on {@code GET /v1/responses}: adapts a {@link TextSocket} to a
 * {@link SocketSession}. The connection ends at its age limit (after a {@code
 * websocket_connection_limit_reached} error) or when its token expires; closing it cancels the
 * requests still queued on it, never a running response.
 *
 * <p>Confined to the socket's event loop, except {@link SocketSession.Frames}, which hops there.
 */
final class ResponsesSocket implements TextSocket.Handler {
    /**
     * @param maxAge          connection lifetime
     * @param cacheTtl        how long a cached response stays usable
     * @param maxMessageBytes largest message a client may send
     * @param slowMillis      how long a reader may stay behind before it is closed
     */
    record Settings(Duration maxAge, Duration cacheTtl, InstantSource clock, int maxMessageBytes, long slowMillis) {}

    private final TextSocket socket;
    private final Settings settings;
    private final SocketSession session;
    /** Event and error frames, batched to the event loop and written through the bounded writer. */
    private final SocketSession.Frames out;

    private long ageTimer = -1;

    ResponsesSocket(ResponseService service, Settings settings, ServerWebSocket ws, Principal principal) {
        this.settings = settings;
        this.socket =
                new TextSocket(ws, settings.maxMessageBytes(), settings.slowMillis(), settings.clock(), principal);
        String connectionId = RequestIds.generate();
        this.out = new SocketSession.Frames() {
            @Override
            public void send(byte[] json) {
                socket.send(Buffer.buffer(json));
            }

            @Override
            public void error(String streamId, Throwable failure) {
                socket.send(Buffer.buffer(ApiErrors.frame(streamId, failure, connectionId)));
            }

            @Override
            public void steerFailed(String streamId, String responseId, Throwable failure) {
                socket.send(Buffer.buffer(ApiErrors.steerFailed(streamId, responseId, failure, connectionId)));
            }
        };
        var context = socket.context();
        this.session = new SocketSession(
                service,
                out,
                settings.clock(),
                settings.cacheTtl(),
                task -> context.runOnContext(v -> task.run()),
                principal);
    }

    void start() {
        socket.start(this);
        var context = socket.context();
        ageTimer = context.owner().setTimer(settings.maxAge().toMillis(), id -> {
            session.expire(settings.maxAge());
            // queued behind the error frame, which the session also queues on this context
            context.runOnContext(v -> socket.close(TextSocket.GOING_AWAY, "connection age limit reached"));
        });
    }

    @Override
    public void onText(String text) {
        session.onText(text);
    }

    @Override
    public void onTokenExpired(Refusal refusal) {
        out.error(null, refusal);
    }

    @Override
    public void onClose() {
        socket.context().owner().cancelTimer(ageTimer);
        session.close();
    }
}
