package dev.tether.http;

import dev.tether.auth.Principal;
import dev.tether.responses.ResponseService;
import dev.tether.responses.SocketSession;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import java.time.Duration;
import java.time.InstantSource;

/**
 * The Responses WebSocket mode on {@code GET /v1/responses}: adapts a Vert.x socket to a
 * {@link SocketSession}. Closes the connection when it reaches its age limit, after telling the
 * client with {@code websocket_connection_limit_reached}; closing it never cancels a response.
 *
 * <p>Confined to the socket's event loop, except {@link SocketSession.Frames#send}, which hops there.
 */
final class ResponsesSocket {
    /** @param maxAge connection lifetime; @param cacheTtl how long a cached response stays usable */
    record Settings(Duration maxAge, Duration cacheTtl, InstantSource clock) {}

    private final ServerWebSocket ws;
    private final Settings settings;
    private final Context context;
    private final SocketSession session;
    private final FrameBatcher frames;

    ResponsesSocket(ResponseService service, Settings settings, ServerWebSocket ws, Principal principal) {
        this.ws = ws;
        this.settings = settings;
        this.context = Vertx.currentContext();
        this.frames = new FrameBatcher(context, batch -> {
            for (Buffer frame : batch) {
                if (!ws.isClosed()) {
                    ws.writeTextMessage(frame.toString(java.nio.charset.StandardCharsets.UTF_8));
                }
            }
        });
        String connectionId = RequestIds.generate();
        this.session = new SocketSession(
                service,
                new SocketSession.Frames() {
                    @Override
                    public void send(byte[] json) {
                        frames.add(Buffer.buffer(json));
                    }

                    @Override
                    public void error(String streamId, Throwable failure) {
                        frames.add(Buffer.buffer(ApiErrors.frame(streamId, failure, connectionId)));
                    }
                },
                settings.clock(),
                settings.cacheTtl(),
                task -> context.runOnContext(v -> task.run()),
                principal);
    }

    void start() {
        ws.textMessageHandler(session::onText);
        ws.binaryMessageHandler(b -> session.onText(b.toString(java.nio.charset.StandardCharsets.UTF_8)));
        long timer = context.owner().setTimer(settings.maxAge().toMillis(), id -> {
            session.expire(settings.maxAge());
            // queued behind the error frame, which send() also queues on this context
            context.runOnContext(v -> ws.close((short) 1001, "connection age limit reached"));
        });
        ws.closeHandler(v -> {
            context.owner().cancelTimer(timer);
            session.close();
        });
    }
}
