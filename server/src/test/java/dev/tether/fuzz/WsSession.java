package dev.tether.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.fuzz.Failure.Category;
import dev.tether.fuzz.FuzzCase.WsExpect;
import dev.tether.fuzz.FuzzCase.WsStep;
import dev.tether.fuzz.WsFrames.Frame;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * Runs one WebSocket case: a real handshake on {@code /v1/responses}, then each step's frames,
 * checking what the server does against the step's expectation. Frames are written from a
 * virtual thread, so a server that stops reading (or closes) mid-message cannot block the check.
 *
 * <p>Not thread-safe; one instance per case.
 */
final class WsSession {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Target target;
    private final FuzzCase.Socket c;
    private final long replyMillis;
    private final long protocolMillis;
    private final List<String> seen = new ArrayList<>();
    private WsExpect current;
    private final List<Failure> failures = new ArrayList<>();
    private final ByteArrayOutputStream message = new ByteArrayOutputStream();

    WsSession(Target target, FuzzCase.Socket c, long replyMillis, long protocolMillis) {
        this.target = target;
        this.c = c;
        this.replyMillis = replyMillis;
        this.protocolMillis = protocolMillis;
    }

    /** What the server did, compactly (the last frames seen). */
    String transcript() {
        List<String> tail = seen.size() > 8 ? seen.subList(seen.size() - 8, seen.size()) : seen;
        return (seen.size() > 8 ? "... " : "") + String.join(" | ", tail);
    }

    List<Failure> run() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(target.host(), target.port()), (int) protocolMillis);
            socket.setTcpNoDelay(true);
            WireInput in = new WireInput(socket, deadline(protocolMillis));
            if (!handshake(socket, in)) {
                return failures;
            }
            for (WsStep step : c.steps()) {
                Thread writer = Thread.ofVirtual().start(() -> write(socket, step.bytes()));
                boolean open = expect(socket, in, step);
                writer.interrupt();
                if (!open) {
                    return failures;
                }
            }
            write(socket, WsFrames.frame(true, WsFrames.CLOSE, WsFrames.closePayload(1000, new byte[0])));
        } catch (IOException e) {
            seen.add("connect failed: " + e.getMessage());
            fail(Category.WS_UNEXPECTED, "connect");
        }
        return failures;
    }

    private boolean handshake(Socket socket, WireInput in) throws IOException {
        String key = Base64.getEncoder().encodeToString(Arrays.copyOf(c.kind().getBytes(), 16));
        String request = "GET /v1/responses HTTP/1.1\r\nHost: " + target.hostHeader() + "\r\n" + target.authLine()
                + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
                + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
        write(socket, Text.latin1(request));
        try {
            RawHttp.Answer a = HttpAnswers.readAnswer(in, "GET", RawHttp.SsePolicy.TO_END);
            if (a != null && a.status() == 101) {
                return true;
            }
            seen.add("handshake: " + (a == null ? "connection closed" : a.toString()));
        } catch (SocketTimeoutException e) {
            seen.add("handshake: no answer within " + protocolMillis + " ms");
        }
        fail(Category.WS_UNEXPECTED, "handshake refused");
        return false;
    }

    /** Checks one step; false when the connection is over (closed as expected or not). */
    private boolean expect(Socket socket, WireInput in, WsStep step) {
        WsExpect want = step.expect();
        current = want;
        if (want instanceof WsExpect.Nothing) {
            return true;
        }
        long millis = want instanceof WsExpect.Replies ? replyMillis : protocolMillis;
        in.deadline(deadline(millis));
        int replies = 0;
        try {
            while (true) {
                Frame f = WsFrames.read(in);
                if (f == null) {
                    seen.add("connection closed without a close frame");
                    fail(want instanceof WsExpect.Close ? Category.WS_NO_CLOSE : Category.WS_UNEXPECTED, "eof");
                    return false;
                }
                switch (f.opcode()) {
                    case WsFrames.CLOSE -> {
                        closed(socket, f, want);
                        return false;
                    }
                    case WsFrames.PONG -> {
                        seen.add("pong " + f.payload().length + " B");
                        if (want instanceof WsExpect.Pong p) {
                            if (!Arrays.equals(p.payload(), f.payload())) {
                                fail(Category.WS_UNEXPECTED, "pong payload differs");
                            }
                            return true;
                        }
                    }
                    case WsFrames.PING -> seen.add("ping");
                    case WsFrames.TEXT, WsFrames.BINARY, WsFrames.CONTINUATION -> {
                        message.writeBytes(f.payload());
                        if (f.fin()) {
                            String type = message(f.opcode());
                            if (Oracle.TERMINAL.contains(type)
                                    && want instanceof WsExpect.Replies r
                                    && ++replies >= r.count()) {
                                return true;
                            }
                        }
                    }
                    default -> {
                        seen.add("frame with opcode " + f.opcode());
                        fail(Category.WS_BAD_FRAME, "opcode " + f.opcode());
                    }
                }
            }
        } catch (SocketTimeoutException e) {
            seen.add("nothing more within " + millis + " ms");
            fail(
                    want instanceof WsExpect.Replies ? Category.WS_DROPPED : Category.HANG,
                    "nothing within " + millis + " ms");
            return false;
        } catch (IOException e) {
            seen.add("read failed: " + e.getMessage());
            fail(want instanceof WsExpect.Close ? Category.WS_NO_CLOSE : Category.WS_UNEXPECTED, "reset");
            return false;
        }
    }

    /** A complete server message: a JSON object without traces; returns its type. */
    private String message(int opcode) {
        byte[] bytes = message.toByteArray();
        message.reset();
        String text = Text.utf8(bytes);
        String area = c.id().area().label();
        Oracle.body(failures, area, "frame", 0, text, text.length() > 300 ? text.substring(0, 300) : text);
        JsonNode node;
        try {
            node = JSON.readTree(bytes);
        } catch (IOException e) {
            node = null;
        }
        if (node == null || !node.isObject()) {
            seen.add("non-JSON frame " + Text.excerpt(bytes, 120));
            fail(Category.WS_BAD_FRAME, "not a JSON object");
            return "";
        }
        String type = node.path("type").asText("");
        if (type.equals("error")) {
            seen.add("error " + node.path("error").path("code").asText("-") + ": "
                    + Text.excerpt(node.path("error").path("message").asText(""), 160));
            if (node.path("error").path("message").asText("").isBlank()) {
                fail(Category.ERROR_BODY, "error frame without error.message");
            }
        } else {
            seen.add(type.isEmpty() ? "frame without type" : type);
        }
        return type;
    }

    private void closed(Socket socket, Frame f, WsExpect want) {
        int code = f.closeCode();
        String reason = f.closeReason();
        seen.add("close " + code + " '" + Text.excerpt(reason, 80) + "'");
        Oracle.body(failures, c.id().area().label(), "close reason", code, reason, reason);
        write(socket, WsFrames.frame(true, WsFrames.CLOSE, WsFrames.closePayload(1000, new byte[0])));
        if (want instanceof WsExpect.Close close) {
            if (!close.codes().isEmpty() && !close.codes().contains(code)) {
                fail(Category.WS_CLOSE_CODE, "got " + code);
            } else if (close.reason() && reason.isBlank()) {
                fail(Category.WS_CLOSE_REASON, "code " + code);
            }
        } else if (want instanceof WsExpect.Replies r && r.orClose().contains(code)) {
            if (reason.isBlank()) {
                fail(Category.WS_CLOSE_REASON, "code " + code);
            }
        } else {
            fail(Category.WS_UNEXPECTED, "closed " + code + " when " + want + " was due");
        }
    }

    /** Signatures name the template, what was due and what happened instead. */
    private void fail(Category category, String what) {
        String due =
                switch (current) {
                    case WsExpect.Close close ->
                        "close " + (close.codes().isEmpty() ? "" : close.codes().toString());
                    case WsExpect.Replies r -> "a reply";
                    case WsExpect.Pong p -> "a pong";
                    case WsExpect.Nothing n -> "nothing";
                    case null -> "a handshake";
                };
        failures.add(Oracle.fail(
                category,
                c.id().area().label(),
                Oracle.template(c.kind()) + " (due: " + due + ") -> " + what,
                transcript()));
    }

    private static long deadline(long millis) {
        return System.nanoTime() + millis * 1_000_000L;
    }

    private static void write(Socket socket, byte[] bytes) {
        try {
            OutputStream out = socket.getOutputStream();
            for (int off = 0; off < bytes.length; off += 64 * 1024) {
                out.write(bytes, off, Math.min(64 * 1024, bytes.length - off));
            }
            out.flush();
        } catch (IOException e) {
            // the server closed first; what it sent before is what gets judged
        }
    }
}
