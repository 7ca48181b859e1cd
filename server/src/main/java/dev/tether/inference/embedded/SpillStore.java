package dev.tether.inference.embedded;

import dev.tether.inference.embedded.disk.DurableFile;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32;

/**
 * Spilled KV state on disk, one file per session under {@code <data-dir>/kv/}, in the layout of
 * {@link SpillFormat}. Files are replaced durably ({@link DurableFile}); anything
 * that does not check out (truncated, corrupt, another model or engine build) is reported as
 * unusable and deleted: at start-up for files that are structurally broken, at use otherwise.
 *
 * <p>Retention: the directory is kept under a disk budget by deleting the least recently
 * written files first, and files not written for longer than the TTL are deleted by
 * {@link #expire()}. Restoring a file does not count as use: the restored session is resident
 * then, and is written again when it is evicted again, so its old file is the one worth least.
 * The write time is the file's modification time, so the order survives restarts.
 *
 * <p>Thread-safe: the engine threads of all groups ({@link EmbeddedSettings#groups}) share one
 * directory and one budget; each method holds the instance lock.
 */
final class SpillStore {
    private static final System.Logger LOG = System.getLogger(SpillStore.class.getName());
    private static final long CHUNK = 1L << 30;
    private static final String SUFFIX = ".kv";

    private final Path dir;
    private final String fingerprint;
    private final long budget;
    private final Duration ttl;
    private final InstantSource clock;
    private final DurableFile files;
    private final SpillIndex index = new SpillIndex();
    /** Restores about to read a file: the budget waits until they have (see {@link #pin}). */
    private int pinned;

    /** Files deleted to keep the budget, and because they were idle past the TTL (read unlocked, for stats). */
    volatile long overBudget;

    volatile long expired;

    /**
     * Opens the spill directory: deletes temporary files a crash left behind and files that are
     * not whole spill files, indexes the rest and applies the budget and the TTL.
     *
     * @param budget bytes the directory may hold ({@link Long#MAX_VALUE}: no limit)
     * @param ttl    how long a file is kept after it was written, or null to keep files until
     *               the budget needs the room
     */
    SpillStore(Path dir, String fingerprint, long budget, Duration ttl, InstantSource clock, DurableFile files)
            throws IOException {
        if (budget < 0) throw new IllegalArgumentException("budget < 0");
        this.dir = Files.createDirectories(dir);
        this.fingerprint = fingerprint;
        this.budget = budget;
        this.ttl = ttl;
        this.clock = clock;
        this.files = files;
        scan();
        trim();
        expire();
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

    /**
     * Writes {@code state} (covering {@code tokens}) as the session's spill file, then deletes
     * the least recently used other files while the directory is over budget. Returns false,
     * writing nothing, if the file alone would exceed the budget.
     */
    synchronized boolean write(String key, int[] tokens, MemorySegment state) throws IOException {
        long headerSize = SpillFormat.headerSize(fingerprint, key, tokens.length);
        if (headerSize + state.byteSize() > budget) return false;
        CRC32 crc = new CRC32();
        for (long at = 0; at < state.byteSize(); at += CHUNK) {
            crc.update(slice(state, at).asByteBuffer());
        }
        ByteBuffer header = SpillFormat.header(fingerprint, key, tokens, state.byteSize(), crc.getValue());
        Path file = file(key);
        long size;
        try {
            size = files.replace(file, ch -> {
                while (header.hasRemaining()) ch.write(header);
                for (long at = 0; at < state.byteSize(); at += CHUNK) {
                    ByteBuffer data = slice(state, at).asByteBuffer();
                    while (data.hasRemaining()) ch.write(data);
                }
            });
        } catch (IOException | RuntimeException e) {
            delete(key); // it may have been renamed into place before the failure
            throw e;
        }
        used(file, size);
        trim();
        return true;
    }

    /** A ByteBuffer covers at most 2 GiB: large states are handled in 1 GiB slices. */
    private static MemorySegment slice(MemorySegment state, long at) {
        return state.asSlice(at, Math.min(CHUNK, state.byteSize() - at));
    }

    /** The session's spill header, or null if it has no spill file. */
    synchronized Header header(String key) throws Unusable {
        Path file = file(key);
        if (!Files.exists(file)) return null;
        return SpillFormat.read(file, fingerprint, key);
    }

    /**
     * Keeps the budget from deleting anything until {@link #unpin()}: making room for a restore
     * spills other sessions first, and the file to restore may be the oldest. Meanwhile the
     * directory may exceed its budget by what those spills wrote.
     */
    synchronized void pin() {
        pinned++;
    }

    /** Ends {@link #pin}, deleting the least recently written files if over budget. */
    synchronized void unpin() {
        pinned--;
        trim();
    }

    /**
     * Maps the state bytes of {@code header} into {@code arena} after checking their CRC; null
     * if the file is gone (deleted since its header was read).
     */
    synchronized MemorySegment read(Header header, Arena arena) throws Unusable {
        Path file = file(header.key());
        if (!Files.exists(file)) return null;
        try (FileChannel ch = FileChannel.open(file)) {
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

    synchronized void delete(String key) {
        delete(file(key));
    }

    /** Deletes the files written longer than the TTL ago (none without a TTL). */
    synchronized void expire() {
        if (ttl == null) return;
        for (String name : index.unusedSince(clock.instant().minus(ttl))) {
            delete(dir.resolve(name));
            expired++;
        }
    }

    /** Bytes of spill files on disk. Thread-safe. */
    long bytes() {
        return index.bytes();
    }

    /** Number of spill files on disk. Thread-safe. */
    int files() {
        return index.files();
    }

    Path file(String key) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return dir.resolve(HexFormat.of().formatHex(h, 0, 16) + SUFFIX);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void used(Path file, long size) {
        index.used(file.getFileName().toString(), size, clock.instant());
        try {
            Files.setLastModifiedTime(file, FileTime.from(clock.instant()));
        } catch (IOException e) {
            // only the order after a restart suffers
            LOG.log(System.Logger.Level.DEBUG, "cannot set the time of {0}: {1}", file, e);
        }
    }

    private void trim() {
        if (pinned > 0) return;
        for (String name : index.overBudget(budget)) {
            delete(dir.resolve(name));
            overBudget++;
        }
    }

    private void delete(Path file) {
        index.removed(file.getFileName().toString());
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // a stale file is harmless: its header is checked before any use
            LOG.log(System.Logger.Level.WARNING, "cannot delete spill file {0}: {1}", file, e);
        }
    }

    private void scan() throws IOException {
        record Found(Path file, long size, FileTime time) {}
        List<Found> found;
        try (Stream<Path> list = Files.list(dir)) {
            found = list.filter(Files::isRegularFile)
                    .filter(this::keep)
                    .map(f -> {
                        try {
                            return new Found(f, Files.size(f), Files.getLastModifiedTime(f));
                        } catch (IOException e) {
                            return null;
                        }
                    })
                    .filter(f -> f != null)
                    .sorted(Comparator.comparing(Found::time))
                    .toList();
        }
        for (Found f : found) index.used(f.file.getFileName().toString(), f.size, f.time.toInstant());
    }

    /** Whether a file found at start-up is a whole spill file; leftovers are deleted. */
    private boolean keep(Path file) {
        String name = file.getFileName().toString();
        if (DurableFile.isTemporary(file) || name.endsWith(SUFFIX + ".tmp")) {
            delete(file);
            return false;
        }
        if (!name.endsWith(SUFFIX)) return false; // not ours
        try {
            SpillFormat.read(file, null, null); // another model's files are kept: that model may come back
            return true;
        } catch (Unusable e) {
            LOG.log(System.Logger.Level.WARNING, "deleting spill file {0}: {1}", file.getFileName(), e.getMessage());
            delete(file);
            return false;
        }
    }
}
