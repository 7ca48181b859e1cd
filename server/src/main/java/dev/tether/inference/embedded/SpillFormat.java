package dev.tether.inference.embedded;

import dev.tether.inference.embedded.SpillStore.Header;
import dev.tether.inference.embedded.SpillStore.Unusable;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The layout of a spill file: a header (magic, the model and engine fingerprint, the session
 * key, the tokens the state covers, each with its length; then the state's length and CRC-32),
 * then the bytes of {@code llama_state_seq_get_data}. Big-endian.
 *
 * <p>Stateless and thread-safe.
 */
final class SpillFormat {
    private static final int MAGIC = 0x544B5631; // "TKV1"

    private SpillFormat() {}

    /** The header of a file holding {@code stateLength} bytes of state with checksum {@code crc}. */
    static ByteBuffer header(String fingerprint, String key, int[] tokens, long stateLength, long crc) {
        byte[] fp = fingerprint.getBytes(StandardCharsets.UTF_8);
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        ByteBuffer header = ByteBuffer.allocate((int) headerSize(fp.length, k.length, tokens.length));
        header.putInt(MAGIC).putInt(fp.length).put(fp).putInt(k.length).put(k).putInt(tokens.length);
        for (int t : tokens) header.putInt(t);
        return header.putLong(stateLength).putLong(crc).flip();
    }

    static long headerSize(String fingerprint, String key, int tokens) {
        return headerSize(
                fingerprint.getBytes(StandardCharsets.UTF_8).length,
                key.getBytes(StandardCharsets.UTF_8).length,
                tokens);
    }

    /**
     * Reads and checks the header of {@code file}: whole, and (unless null) written under
     * {@code fingerprint} for session {@code key}.
     */
    static Header read(Path file, String fingerprint, String key) throws Unusable {
        try (FileChannel ch = FileChannel.open(file)) {
            long size = ch.size();
            DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(ch), 1 << 16));
            if (size < 8 || in.readInt() != MAGIC) throw new Unusable("not a Tether KV spill file");
            byte[] fp = bytes(in, size);
            if (fingerprint != null && !Arrays.equals(fp, fingerprint.getBytes(StandardCharsets.UTF_8))) {
                throw new Unusable("written for another model or engine build ("
                        + new String(fp, StandardCharsets.UTF_8) + ", now " + fingerprint + ")");
            }
            byte[] k = bytes(in, size);
            if (key != null && !Arrays.equals(k, key.getBytes(StandardCharsets.UTF_8))) {
                throw new Unusable("belongs to another session");
            }
            int[] tokens = new int[length(in, 4, size)];
            for (int i = 0; i < tokens.length; i++) tokens[i] = in.readInt();
            long length = in.readLong();
            long crc = in.readLong();
            long offset = headerSize(fp.length, k.length, tokens.length);
            if (offset + length != size) throw new Unusable("truncated (" + size + " bytes on disk)");
            return new Header(new String(k, StandardCharsets.UTF_8), tokens, offset, length, crc);
        } catch (IOException | RuntimeException e) {
            throw new Unusable("unreadable: " + e);
        }
    }

    /** Magic, fingerprint, key, tokens (each with its length), then the state's length and CRC. */
    private static long headerSize(int fingerprintBytes, int keyBytes, int tokens) {
        return 4 + 4 + fingerprintBytes + 4 + keyBytes + 4 + 4L * tokens + 8 + 8;
    }

    private static byte[] bytes(DataInputStream in, long size) throws IOException {
        byte[] bytes = new byte[length(in, 1, size)];
        in.readFully(bytes);
        return bytes;
    }

    /** Reads a length field and checks that that many units could fit in the file at all. */
    private static int length(DataInputStream in, int unit, long size) throws IOException {
        int n = in.readInt();
        if (n < 0 || (long) n * unit > size) throw new IOException("bad length " + n);
        return n;
    }
}
