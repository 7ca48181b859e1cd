package dev.tether.store.log;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Where the full chunks of every stream's {@link StreamIndex} are kept instead of the heap: a file
 * in the log's directory (the temp dir for a log opened read-only), read through a mapping. An
 * index holds about 12 bytes for every message the log keeps, so on the heap a long stream's index
 * grew with the data kept until the JVM ran out of memory (and, with the same data, again at every
 * start, since recovery rebuilds it). In this file those bytes are page cache, which the kernel
 * writes out and reclaims under pressure like any file's; what stays on the heap is about 150
 * bytes per chunk of 4,096 messages. Each stream's newest chunk (up to 4,096 messages) stays on the
 * heap, so a log of many short streams still holds their entries there.
 *
 * <p>A chunk is written once, whole, with a positional write (a full disk fails that write, and
 * the chunk stays on the heap until it is trimmed or the server restarts; a write through the
 * mapping would fault instead), and read through the mapping. Slots of trimmed or dropped chunks
 * are reused, but their blocks are not given back: the file takes the disk space of the most
 * chunks held at once since the log was opened. The file is unlinked as soon as it is open: it is
 * a cache of what the segments and their index files say, rebuilt at every open, so a crash leaves
 * nothing behind and no directory listing of a local file system sees it. Its space does not count
 * against {@code --max-store-size}.
 *
 * <p>The mappings belong to an automatic arena: a read that races {@link #close} still reads
 * mapped memory, and they (and the unlinked file's disk space) go once no chunk refers to them
 * and a garbage collection has run.
 *
 * <p>Thread-safety: all methods are safe from any thread; a slot's memory, once returned by
 * {@link #store}, is read-only until {@link #free} (the index's monitor orders the two).
 */
final class ChunkFile implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ChunkFile.class.getName());
    /** The three fields of a chunk as ints: positions, then log offsets, then lengths. */
    static final int SLOT_BYTES = StreamIndex.CHUNK * 3 * Integer.BYTES;
    /** Slots per mapping: 24 MiB, about two million messages' worth. */
    private static final int SLOTS_PER_REGION = 512;

    private static final long REGION_BYTES = (long) SLOT_BYTES * SLOTS_PER_REGION;

    private final FileChannel channel;
    private final Arena arena = Arena.ofAuto();
    private final ByteBuffer staging = ByteBuffer.allocateDirect(SLOT_BYTES).order(ByteOrder.nativeOrder());
    private final List<MemorySegment> regions = new ArrayList<>();
    /** Slots given back, reused first. */
    private int[] free = new int[64];

    private int freeCount;
    /** Slots ever handed out: the file's used length is this many slots. */
    private int slots;

    private boolean writeFailed;
    private boolean closed;

    private ChunkFile(FileChannel channel) {
        this.channel = channel;
    }

    /** Tests: a chunk file on {@code channel}, which must be open for reading and writing. */
    static ChunkFile on(FileChannel channel) {
        return new ChunkFile(channel);
    }

    /**
     * Opens a new, unlinked chunk file in {@code dir}; null, after logging why, when it cannot
     * be made (the indexes then stay on the heap).
     */
    static ChunkFile open(Path dir) {
        Path file = null;
        try (DirectoryStream<Path> left = Files.newDirectoryStream(dir, "index-*.chunks")) {
            for (Path f : left) { // a crash between making one and unlinking it
                Files.deleteIfExists(f);
            }
            file = Files.createTempFile(dir, "index-", ".chunks");
            FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            try {
                Files.delete(file);
            } catch (IOException e) {
                channel.close();
                throw e;
            }
            return new ChunkFile(channel);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "the log's indexes stay on the heap (about 12 bytes a message kept): cannot make a chunk file in "
                            + dir + ": " + e);
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException ignored) {
                    // it was made in a directory that then refused the delete: left as it is
                }
            }
            return null;
        }
    }

    /**
     * Keeps one full chunk: {@link StreamIndex#CHUNK} values of each field.
     *
     * @return the slot, with its memory ({@link #memory}), or -1 when the file cannot take it
     *     (the disk is full, or the file is closed): the caller keeps the chunk on the heap
     */
    synchronized int store(int[] positions, int[] locations, int[] lengths) {
        if (closed) {
            return -1;
        }
        int slot = freeCount > 0 ? free[--freeCount] : slots;
        try {
            if (slot / SLOTS_PER_REGION == regions.size()) {
                regions.add(channel.map(
                        FileChannel.MapMode.READ_ONLY, (long) regions.size() * REGION_BYTES, REGION_BYTES, arena));
            }
            staging.clear();
            staging.asIntBuffer().put(positions).put(locations).put(lengths);
            long at = (long) slot * SLOT_BYTES;
            while (staging.hasRemaining()) {
                at += channel.write(staging, at);
            }
        } catch (IOException | RuntimeException e) {
            if (slot != slots) {
                free[freeCount++] = slot; // back where it was
            }
            if (!writeFailed) {
                writeFailed = true;
                LOG.log(
                        System.Logger.Level.WARNING,
                        "the log's chunk file takes no more writes for now (a full disk?): index chunks that fill"
                                + " until it does stay on the heap until they are trimmed or the server restarts: "
                                + e);
            }
            return -1;
        }
        writeFailed = false;
        if (slot == slots) {
            slots++;
        }
        return slot;
    }

    /** The memory of a slot {@link #store} returned: its positions, log offsets and lengths as ints. */
    synchronized MemorySegment memory(int slot) {
        return regions.get(slot / SLOTS_PER_REGION).asSlice((long) (slot % SLOTS_PER_REGION) * SLOT_BYTES, SLOT_BYTES);
    }

    /** Gives a slot back for reuse; its memory must no longer be read. */
    synchronized void free(int slot) {
        if (freeCount == free.length) {
            free = Arrays.copyOf(free, freeCount * 2);
        }
        free[freeCount++] = slot;
    }

    /** Slots holding a chunk now (tests). */
    synchronized int slotsInUse() {
        return slots - freeCount;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.close(); // the mappings stay until no chunk refers to them
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing the index chunk file: " + e);
        }
    }
}
