package dev.tether.inference.embedded;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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
        ByteBuffer data = state.asByteBuffer();
        CRC32 crc = new CRC32();
        crc.update(data.duplicate());
        byte[] fp = fingerprint.getBytes(StandardCharsets.UTF_8);
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        ByteBuffer header = ByteBuffer.allocate(4 + 4 + fp.length + 4 + k.length + 4 + 4 * tokens.length + 16);
        header.putInt(MAGIC).putInt(fp.length).put(fp).putInt(k.length).put(k).putInt(tokens.length);
        for (int t : tokens) header.putInt(t);
        header.putLong(state.byteSize()).putLong(crc.getValue()).flip();
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            while (header.hasRemaining()) ch.write(header);
            while (data.hasRemaining()) ch.write(data);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The session's spill header, or null if it has no spill file. */
    Header header(String key) throws Unusable {
        Path file = file(key);
        if (!Files.exists(file)) return null;
        try (FileChannel ch = FileChannel.open(file)) {
            long size = ch.size();
            ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, 0, Math.min(size, Integer.MAX_VALUE));
            if (size < 8 || b.getInt() != MAGIC) throw new Unusable("not a Tether KV spill file");
            String fp = string(b);
            if (!fp.equals(fingerprint)) {
                throw new Unusable("written for another model or engine build (" + fp + ", now " + fingerprint + ")");
            }
            String k = string(b);
            if (!k.equals(key)) throw new Unusable("belongs to another session");
            int[] tokens = new int[checkedLength(b, 4)];
            b.asIntBuffer().get(tokens);
            b.position(b.position() + 4 * tokens.length);
            long length = b.getLong();
            long crc = b.getLong();
            if (b.position() + length != size) throw new Unusable("truncated (" + size + " bytes on disk)");
            return new Header(key, tokens, b.position(), length, crc);
        } catch (IOException | RuntimeException e) {
            throw new Unusable("unreadable: " + e);
        }
    }

    /** Maps the state bytes of {@code header} into {@code arena} after checking their CRC. */
    MemorySegment read(Header header, Arena arena) throws Unusable {
        try (FileChannel ch = FileChannel.open(file(header.key()))) {
            MemorySegment data = ch.map(FileChannel.MapMode.READ_ONLY, header.dataOffset(), header.dataLength(), arena);
            CRC32 crc = new CRC32();
            crc.update(data.asByteBuffer());
            if (crc.getValue() != header.crc()) throw new Unusable("corrupt (checksum mismatch)");
            return data;
        } catch (IOException e) {
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

    private static String string(ByteBuffer b) {
        byte[] bytes = new byte[checkedLength(b, 1)];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static int checkedLength(ByteBuffer b, int unit) {
        int n = b.getInt();
        if (n < 0 || (long) n * unit > b.remaining()) throw new IllegalArgumentException("bad length " + n);
        return n;
    }
}
