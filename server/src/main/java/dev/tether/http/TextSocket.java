package dev.tether.http;

import dev.tether.auth.Principal;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketFrame;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.InstantSource;

/**
 * A WebSocket that carries JSON text messages, for every WebSocket API Tether serves (the
 * Responses WebSocket mode, sessions). It assembles messages from frames itself, so every
 * violation closes the connection with the code RFC 6455 names and a reason: 1002 for protocol
 * errors (reserved bits, unknown opcodes, a stray continuation), 1007 for text that is not UTF-8,
 * 1009 for a message over the limit. Outgoing frames go through the {@link BoundedWriter}; a
 * reader that stops reading is closed with 1008. A token that expires while the socket is open
 * gets an error frame and a 1008 close.
 *
 * <p>Confined to the socket's event loop, except {@link #send}, which hops there.
 */
final class TextSocket {
    static final short PROTOCOL_ERROR = 1002;
    static final short UNACCEPTABLE = 1003;
    static final short INVALID_DATA = 1007;
    static final short POLICY = 1008;
    static final short TOO_BIG = 1009;
    static final short GOING_AWAY = 1001;

    /** What the API on top does with the socket's messages and its end. */
    interface Handler {
        void onText(String text);

        /** The token expired: send the error frame (the socket closes after it). */
        void onTokenExpired(Refusal refusal);

        void onClose();
    }

    private final ServerWebSocket ws;
    private final Context context;
    private final int maxMessageBytes;
    private final InstantSource clock;
    private final Principal principal;
    private final FrameBatcher frames;
    private final BoundedWriter writer;
    private Handler handler;
    private Buffer message;
    private boolean messageIsText;
    private boolean closing;

    TextSocket(ServerWebSocket ws, int maxMessageBytes, long slowMillis, InstantSource clock, Principal principal) {
        this.ws = ws;
        this.context = Vertx.currentContext();
        this.maxMessageBytes = maxMessageBytes;
        this.clock = clock;
        this.principal = principal;
        this.writer = new BoundedWriter(
                context,
                frame -> ws.writeTextMessage(frame.toString(StandardCharsets.UTF_8)),
                false,
                BoundedWriter.Limits.defaults(slowMillis),
                () -> {
                    HttpMetrics.current().slowReader("websocket");
                    close(POLICY, "reader too slow: it did not take the events sent to it");
                });
        this.frames = new FrameBatcher(context, batch -> batch.forEach(writer::send));
    }

    Context context() {
        return context;
    }

    /** Sends a frame from any thread (batched onto the event loop). */
    void send(Buffer frame) {
        frames.add(frame);
    }

    /**
     * Sends a frame from the socket's own event loop, straight into the bounded writer, so {@link
     * #whenDrained} sees it: a reader that pulls (reads the next chunk of a log only when the
     * connection has room) must use this, or it would read ahead without bound.
     */
    void sendOnLoop(Buffer frame) {
        writer.send(frame);
    }

    /** Runs {@code next} on the event loop once everything sent so far is taken by the socket. */
    void whenDrained(Runnable next) {
        writer.whenDrained(next);
    }

    boolean closing() {
        return closing;
    }

    /** Starts reading; the handler hears every message and the close. */
    void start(Handler handler) {
        this.handler = handler;
        Runnable counted = HttpMetrics.current().opened(true);
        ws.frameHandler(this::onFrame);
        ws.exceptionHandler(this::onException);
        long tokenTimer = tokenTimer();
        ws.closeHandler(v -> {
            counted.run();
            closing = true;
            context.owner().cancelTimer(tokenTimer);
            writer.close();
            handler.onClose();
        });
    }

    /** A token that expires while the socket is open ends it: the client reconnects with a fresh one. */
    private long tokenTimer() {
        Instant expires = principal.expiresAt();
        if (expires == null) {
            return -1;
        }
        long millis = Math.max(1, expires.toEpochMilli() - clock.millis());
        return context.owner().setTimer(millis, id -> {
            handler.onTokenExpired(new Refusal(
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
        if (message.length() + frame.binaryData().length() > maxMessageBytes) {
            close(TOO_BIG, "message larger than " + maxMessageBytes + " bytes");
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
        handler.onText(text);
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

    void close(short code, String reason) {
        if (closing) {
            return;
        }
        closing = true;
        String r = reason.length() > 120 ? reason.substring(0, 120) : reason; // a close reason is at most 123 bytes
        ws.close(code, r);
    }
}
