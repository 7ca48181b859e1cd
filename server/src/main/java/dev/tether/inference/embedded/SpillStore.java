package dev.tether.inference.embedded;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.CRC32;

/**
 * Spilled KV state on disk, one file per session under {@code <data-dir>/kv/}. A file holds a
 * header (format, the model and engine fingerprint, the session key, the tokens the state
 * covers, the length and CRC-32 of the state) and then the bytes of
 * {@code llama_state_seq_get_data}. Files are written to a temporary name and renamed, so a
 * crash leaves either the old file or the new one; anything that does not check out on read
 * (truncated, corrupt, another model or engine build) is reported as unusable and deleted.
 *
 * <p>Thread-safe (no mutable state besides the files).
 */
final class SpillStore {
    private static final int MAGIC = 0x544B5631; // "TKV1"
    private static final long CHUNK = 1L << 30;
    private final Path dir;
    private final String fingerprint;

    SpillStore(Path dir, String fingerprint) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.fingerprint = fingerprint;
    }

    /** The header of a spill file: which tokens the state covers. */
    record Header(String key, int[] tokens, long dataOffset, long dataLength, long crc) {}

    /** Thrown when a spill file exists but cannot be used; the message says why. */
    static final class Unusable extends Exception {
        private static final long serialVersionUID = 1L;

        Unusable(String message) {
            super(message, null, false, false);
        }
    }

    /** Writes {@code state} (covering {@code tokens}) as the session's spill file. */
    void write(String key, int[] tokens, MemorySegment state) throws IOException {
        Path file = file(key);
        Path tmp = dir.resolve(file.getFileName() + ".tmp");
        CRC32 crc = new CRC32();
        for (long at = 0; at < state.byteSize(); at += CHUNK) {
            crc.update(slice(state, at).asByteBuffer());
        }
        byte[] fp = fingerprint.getBytes(StandardCharsets.UTF_8);
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        ByteBuffer header = ByteBuffer.allocate((int) headerSize(fp.length, k.length, tokens.length));
        header.putInt(MAGIC).putInt(fp.length).put(fp).putInt(k.length).put(k).putInt(tokens.length);
        for (int t : tokens) header.putInt(t);
        header.putLong(state.byteSize()).putLong(crc.getValue()).flip();
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            while (header.hasRemaining()) ch.write(header);
            for (long at = 0; at < state.byteSize(); at += CHUNK) {
                ByteBuffer data = slice(state, at).asByteBuffer();
                while (data.hasRemaining()) ch.write(data);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** A ByteBuffer covers at most 2 GiB: large states are handled in 1 GiB slices. */
    private static MemorySegment slice(MemorySegment state, long at) {
        return state.asSlice(at, Math.min(CHUNK, state.byteSize() - at));
    }

    /** The session's spill header, or null if it has no spill file. */
    Header header(String key) throws Unusable {
        Path file = file(key);
        if (!Files.exists(file)) return null;
        try (FileChannel ch = FileChannel.open(file)) {
            long size = ch.size();
            DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(ch), 1 << 16));
            if (size < 8 || in.readInt() != MAGIC) throw new Unusable("not a Tether KV spill file");
            byte[] fp = bytes(in, size);
            if (!Arrays.equals(fp, fingerprint.getBytes(StandardCharsets.UTF_8))) {
                throw new Unusable("written for another model or engine build ("
                        + new String(fp, StandardCharsets.UTF_8) + ", now " + fingerprint + ")");
            }
            byte[] k = bytes(in, size);
            if (!Arrays.equals(k, key.getBytes(StandardCharsets.UTF_8))) {
                throw new Unusable("belongs to another session");
            }
            int[] tokens = new int[length(in, 4, size)];
            for (int i = 0; i < tokens.length; i++) tokens[i] = in.readInt();
            long length = in.readLong();
            long crc = in.readLong();
            long offset = headerSize(fp.length, k.length, tokens.length);
            if (offset + length != size) throw new Unusable("truncated (" + size + " bytes on disk)");
            return new Header(key, tokens, offset, length, crc);
        } catch (IOException | RuntimeException e) {
            throw new Unusable("unreadable: " + e);
        }
    }

    /** Maps the state bytes of {@code header} into {@code arena} after checking their CRC. */
    MemorySegment read(Header header, Arena arena) throws Unusable {
        try (FileChannel ch = FileChannel.open(file(header.key()))) {
            MemorySegment data = ch.map(FileChannel.MapMode.READ_ONLY, header.dataOffset(), header.dataLength(), arena);
            CRC32 crc = new CRC32();
            for (long at = 0; at < data.byteSize(); at += CHUNK) {
                crc.update(slice(data, at).asByteBuffer());
            }
            if (crc.getValue() != header.crc()) throw new Unusable("corrupt (checksum mismatch)");
            return data;
        } catch (IOException | RuntimeException | InternalError e) { // InternalError: file shrank under the map
            throw new Unusable("unreadable: " + e);
        }
    }

    void delete(String key) {
        try {
            Files.deleteIfExists(file(key));
        } catch (IOException ignored) {
            // a stale file is harmless: its header is checked before any use
        }
    }

    Path file(String key) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return dir.resolve(HexFormat.of().formatHex(h, 0, 16) + ".kv");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
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
