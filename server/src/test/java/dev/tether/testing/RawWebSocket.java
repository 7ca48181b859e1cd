package dev.tether.testing;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A WebSocket client over a plain socket, for tests that must send what a well-behaved client
 * library never would: reserved bits, unknown opcodes, invalid UTF-8, stray continuations,
 * oversized messages. Frames from the server are read back as they are, close frames included.
 *
 * <p>Not thread-safe.
 */
public final class RawWebSocket implements AutoCloseable {
    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private final String handshake;

    /** What the server sent: text frames before the close, then the close code and reason (code -1: none). */
    public record Outcome(List<String> texts, int closeCode, String closeReason) {}

    private RawWebSocket(Socket socket, String handshake) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
        this.handshake = handshake;
    }

    /** Connects and upgrades {@code path}; extra header lines (e.g. "Authorization: Bearer x") are added. */
    public static RawWebSocket open(int port, String path, String... headers) throws IOException {
        Socket socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(10_000);
        byte[] key = new byte[16];
        ThreadLocalRandom.current().nextBytes(key);
        StringBuilder req = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port
                + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
                + Base64.getEncoder().encodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n");
        for (String h : headers) {
            req.append(h).append("\r\n");
        }
        socket.getOutputStream().write(req.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
        StringBuilder head = new StringBuilder();
        int c;
        while ((c = socket.getInputStream().read()) >= 0) {
            head.append((char) c);
            if (head.toString().endsWith("\r\n\r\n")) {
                break;
            }
        }
        return new RawWebSocket(socket, head.toString());
    }

    /** The status line and headers of the upgrade answer. */
    public String handshake() {
        return handshake;
    }

    /** Sends one masked frame. {@code rsv} is the three reserved bits (0-7). */
    public RawWebSocket frame(int opcode, byte[] payload, boolean fin, int rsv) throws IOException {
        ByteArrayOutputStream f = new ByteArrayOutputStream();
        f.write((fin ? 0x80 : 0) | (rsv << 4) | opcode);
        int n = payload.length;
        if (n < 126) {
            f.write(0x80 | n);
        } else if (n < 65536) {
            f.write(0x80 | 126);
            f.write(n >>> 8);
            f.write(n & 0xff);
        } else {
            f.write(0x80 | 127);
            for (int i = 7; i >= 0; i--) {
                f.write((int) ((long) n >>> (8 * i)) & 0xff);
            }
        }
        byte[] mask = new byte[4];
        ThreadLocalRandom.current().nextBytes(mask);
        f.write(mask);
        for (int i = 0; i < n; i++) {
            f.write(payload[i] ^ mask[i % 4]);
        }
        out.write(f.toByteArray());
        out.flush();
        return this;
    }

    public RawWebSocket text(String json) throws IOException {
        return frame(1, json.getBytes(StandardCharsets.UTF_8), true, 0);
    }

    /** Reads frames until the server closes (or {@code timeoutMillis} passes without a close). */
    public Outcome readUntilClose(int timeoutMillis) throws IOException {
        socket.setSoTimeout(timeoutMillis);
        List<String> texts = new ArrayList<>();
        try {
            while (true) {
                Frame f = readFrame();
                if (f.opcode() == 8) {
                    byte[] p = f.payload();
                    int code = p.length >= 2 ? ((p[0] & 0xff) << 8) | (p[1] & 0xff) : -1;
                    String reason = p.length > 2 ? new String(p, 2, p.length - 2, StandardCharsets.UTF_8) : "";
                    return new Outcome(texts, code, reason);
                }
                if (f.opcode() == 1) {
                    texts.add(new String(f.payload(), StandardCharsets.UTF_8));
                }
            }
        } catch (SocketTimeoutException | EOFException e) {
            return new Outcome(texts, -1, e.getClass().getSimpleName());
        }
    }

    /** The next text frame, or null on a close frame, end of stream or {@code timeoutMillis} of silence. */
    public String next(int timeoutMillis) throws IOException {
        socket.setSoTimeout(timeoutMillis);
        try {
            while (true) {
                Frame f = readFrame();
                if (f.opcode() == 8) {
                    return null;
                }
                if (f.opcode() == 1) {
                    return new String(f.payload(), StandardCharsets.UTF_8);
                }
            }
        } catch (SocketTimeoutException | EOFException e) {
            return null;
        }
    }

    private record Frame(int opcode, byte[] payload) {}

    /** One unmasked server frame. */
    private Frame readFrame() throws IOException {
        int b0 = in.readUnsignedByte();
        int b1 = in.readUnsignedByte();
        long n = b1 & 0x7f;
        if (n == 126) {
            n = in.readUnsignedShort();
        } else if (n == 127) {
            n = in.readLong();
        }
        byte[] payload = new byte[(int) n];
        in.readFully(payload);
        return new Frame(b0 & 0x0f, payload);
    }

    public Socket socket() {
        return socket;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
