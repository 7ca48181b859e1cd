package dev.tether.fuzz;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * RFC 6455 frames, built bit by bit so that any field can be wrong: reserved bits, opcodes,
 * masking, and the length encoding (the RFC asks for the shortest; {@code forceLength} may pick a
 * longer one, or lie).
 */
final class WsFrames {
    static final int CONTINUATION = 0x0;
    static final int TEXT = 0x1;
    static final int BINARY = 0x2;
    static final int CLOSE = 0x8;
    static final int PING = 0x9;
    static final int PONG = 0xA;

    private WsFrames() {}

    /** A frame as a client must send it: FIN as given, no reserved bits, masked, shortest length. */
    static byte[] frame(boolean fin, int opcode, byte[] payload) {
        return frame(fin, 0, opcode, payload, true, -1, 0x5A17C3E1);
    }

    /**
     * @param rsv         the three reserved bits (0-7)
     * @param masked      clients must mask; an unmasked frame is a protocol error
     * @param lengthForm  -1 for the shortest, else 0 (7-bit), 1 (16-bit) or 2 (64-bit) even when longer than needed
     * @param maskKey     the masking key
     */
    static byte[] frame(boolean fin, int rsv, int opcode, byte[] payload, boolean masked, int lengthForm, int maskKey) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(payload.length + 14);
        out.write((fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0xF));
        int maskBit = masked ? 0x80 : 0;
        int form = lengthForm >= 0 ? lengthForm : payload.length < 126 ? 0 : payload.length < 65536 ? 1 : 2;
        switch (form) {
            case 0 -> out.write(maskBit | Math.min(payload.length, 125));
            case 1 -> {
                out.write(maskBit | 126);
                out.write(payload.length >>> 8 & 0xff);
                out.write(payload.length & 0xff);
            }
            default -> {
                out.write(maskBit | 127);
                out.writeBytes(ByteBuffer.allocate(8).putLong(payload.length).array());
            }
        }
        byte[] key = ByteBuffer.allocate(4).putInt(maskKey).array();
        if (masked) {
            out.writeBytes(key);
        }
        for (int i = 0; i < payload.length; i++) {
            out.write(masked ? payload[i] ^ key[i & 3] : payload[i]);
        }
        return out.toByteArray();
    }

    /** A close frame's payload: a two-byte code and a reason. */
    static byte[] closePayload(int code, byte[] reason) {
        byte[] p = new byte[2 + reason.length];
        p[0] = (byte) (code >>> 8);
        p[1] = (byte) code;
        System.arraycopy(reason, 0, p, 2, reason.length);
        return p;
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** A frame from the server (never masked, but a broken server might: the mask is honoured). */
    record Frame(boolean fin, int rsv, int opcode, byte[] payload) {
        int closeCode() {
            return payload.length >= 2 ? (payload[0] & 0xff) << 8 | payload[1] & 0xff : 1005;
        }

        String closeReason() {
            return payload.length > 2 ? Text.utf8(java.util.Arrays.copyOfRange(payload, 2, payload.length)) : "";
        }
    }

    /** Reads one frame; null at a clean end of stream before its first byte. */
    static Frame read(WireInput in) throws IOException {
        int b0 = in.read();
        if (b0 < 0) {
            return null;
        }
        int b1 = in.read();
        if (b1 < 0) {
            throw new IOException("connection closed inside a frame header");
        }
        long len = b1 & 0x7F;
        if (len == 126) {
            len = (in.read() & 0xff) << 8 | in.read() & 0xff;
        } else if (len == 127) {
            len = ByteBuffer.wrap(in.bytes(8)).getLong();
        }
        if (len < 0 || len > RawHttp.MAX_BODY) {
            throw new WireInput.Malformed("server frame of " + len + " B");
        }
        byte[] mask = (b1 & 0x80) != 0 ? in.bytes(4) : null;
        byte[] payload = in.bytes((int) len);
        if (mask != null) {
            for (int i = 0; i < payload.length; i++) {
                payload[i] ^= mask[i & 3];
            }
        }
        return new Frame((b0 & 0x80) != 0, b0 >>> 4 & 7, b0 & 0xF, payload);
    }
}
