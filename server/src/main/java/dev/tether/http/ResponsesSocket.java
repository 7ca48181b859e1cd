package dev.tether.http;

import dev.tether.auth.Principal;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.responses.ResponseService;
import dev.tether.responses.SocketSession;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketFrame;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;

/**
 * The Responses WebSocket mode on {@code GET /v1/responses}: adapts a Vert.x socket to a {@link
 * SocketSession}. It assembles messages from frames itself, so every violation closes the
 * connection with the code RFC 6455 names and a reason: 1002 for protocol errors (reserved bits,
 * unknown opcodes, a stray continuation), 1007 for text that is not UTF-8, 1009 for a message over
 * the limit. Outgoing frames go through the {@link BoundedWriter}; a reader that stops reading is
 * closed with 1008. The connection ends at its age limit (after a {@code
 * websocket_connection_limit_reached} error) or when its token expires; closing it cancels the
 * requests still queued on it, never a running response.
 *
 * <p>Confined to the socket's event loop, except {@link SocketSession.Frames}, which hops there.
 */
final class ResponsesSocket {
    static final short PROTOCOL_ERROR = 1002;
    static final short UNACCEPTABLE = 1003;
    static final short INVALID_DATA = 1007;
    static final short POLICY = 1008;
    static final short TOO_BIG = 1009;
    static final short GOING_AWAY = 1001;

    /**
     * @param maxAge          connection lifetime
     * @param cacheTtl        how long a cached response stays usable
     * @param maxMessageBytes largest message a client may send
     * @param slowMillis      how long a reader may stay behind before it is closed
     */
    record Settings(Duration maxAge, Duration cacheTtl, InstantSource clock, int maxMessageBytes, long slowMillis) {}

    private final ServerWebSocket ws;
    private final Settings settings;
    private final Context context;
    private final SocketSession session;
    /** Event and error frames, batched to the event loop and written through the bounded writer. */
    private final SocketSession.Frames out;

    private final FrameBatcher frames;
    private final BoundedWriter writer;
    private final Principal principal;
    private Buffer message;
    private boolean messageIsText;
    private boolean closing;

    ResponsesSocket(ResponseService service, Settings settings, ServerWebSocket ws, Principal principal) {
        this.ws = ws;
        this.settings = settings;
        this.principal = principal;
        this.context = Vertx.currentContext();
        this.writer = new BoundedWriter(
                context,
                frame -> ws.writeTextMessage(frame.toString(StandardCharsets.UTF_8)),
                false,
                BoundedWriter.Limits.defaults(settings.slowMillis()),
                () -> {
                    HttpMetrics.current().slowReader("websocket");
                    close(POLICY, "reader too slow: it did not take the events sent to it");
                });
        this.frames = new FrameBatcher(context, batch -> batch.forEach(writer::send));
        String connectionId = RequestIds.generate();
        this.out = new SocketSession.Frames() {
            @Override
            public void send(byte[] json) {
                frames.add(Buffer.buffer(json));
            }

            @Override
            public void error(String streamId, Throwable failure) {
                frames.add(Buffer.buffer(ApiErrors.frame(streamId, failure, connectionId)));
            }
        };
        this.session = new SocketSession(
                service,
                out,
                settings.clock(),
                settings.cacheTtl(),
                task -> context.runOnContext(v -> task.run()),
                principal);
    }

    void start() {
        Runnable counted = HttpMetrics.current().opened(true);
        ws.frameHandler(this::onFrame);
        ws.exceptionHandler(this::onException);
        long ageTimer = context.owner().setTimer(settings.maxAge().toMillis(), id -> {
            session.expire(settings.maxAge());
            // queued behind the error frame, which the session also queues on this context
            context.runOnContext(v -> close(GOING_AWAY, "connection age limit reached"));
        });
        long tokenTimer = tokenTimer();
        ws.closeHandler(v -> {
            counted.run();
            closing = true;
            context.owner().cancelTimer(ageTimer);
            context.owner().cancelTimer(tokenTimer);
            writer.close();
            session.close();
        });
    }

    /** A token that expires while the socket is open ends it: the client reconnects with a fresh one. */
    private long tokenTimer() {
        Instant expires = principal.expiresAt();
        if (expires == null) {
            return -1;
        }
        long millis = Math.max(1, expires.toEpochMilli() - settings.clock().millis());
        return context.owner().setTimer(millis, id -> {
            out.error(
                    null,
                    new Refusal(
                            Condition.UNAUTHENTICATED,
                            "token_expired",
                            null,
                            "the token of this connection expired; reconnect with a fresh one"));
            context.runOnContext(v -> close(POLICY, "token expired"));
        });
    }

    private void onFrame(WebSocketFrame frame) {
        if (closing || !(frame.isText() || frame.isBinary() || frame.isContinuation())) {
            return; // pings and pongs are answered by Vert.x
        }
        if (frame.isContinuation()) {
            if (message == null) {
                close(PROTOCOL_ERROR, "a continuation frame without a message to continue");
                return;
            }
        } else {
            if (message != null) {
                close(PROTOCOL_ERROR, "a new message started before the previous one was finished");
                return;
            }
            message = Buffer.buffer();
            messageIsText = frame.isText();
        }
        if (message.length() + frame.binaryData().length() > settings.maxMessageBytes()) {
            close(TOO_BIG, "message larger than " + settings.maxMessageBytes() + " bytes");
            return;
        }
        message.appendBuffer(frame.binaryData());
        if (frame.isFinal()) {
            Buffer complete = message;
            message = null;
            deliver(complete);
        }
    }

    private void deliver(Buffer complete) {
        String text;
        try {
            text = Utf8.decode(ByteBuffer.wrap(complete.getBytes()));
        } catch (CharacterCodingException e) {
            if (messageIsText) {
                close(INVALID_DATA, "a text message that is not valid UTF-8");
            } else {
                close(UNACCEPTABLE, "binary messages must hold UTF-8 JSON text");
            }
            return;
        }
        session.onText(text);
    }

    /** Netty's decoder found a broken frame: close with the status it names (1002, 1009). */
    private void onException(Throwable t) {
        if (t instanceof CorruptedWebSocketFrameException c) {
            close((short) c.closeStatus().code(), c.getMessage());
        } else if (!ws.isClosed()
                && !(t instanceof java.io.IOException)
                && !(t instanceof io.vertx.core.http.HttpClosedException)) {
            // A connection that is already gone (reset, closed) needs no close frame: sending one
            // would only keep it in memory for Vert.x's closing timeout.
            close(PROTOCOL_ERROR, "the connection failed: " + t.getClass().getSimpleName());
        }
    }

    private void close(short code, String reason) {
        if (closing) {
            return;
        }
        closing = true;
        String r = reason.length() > 120 ? reason.substring(0, 120) : reason; // a close reason is at most 123 bytes
        ws.close(code, r);
    }
}
