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
 * Where the chunks of every stream's {@link StreamIndex} are kept instead of the heap, full ones and
 * parked ones (a quiet stream's newest, still filling): a file
 * in the log's directory (the temp dir for a log opened read-only), read through a mapping. An
 * index holds about 12 bytes for every message the log keeps, so on the heap a long stream's index
 * grew with the data kept until the JVM ran out of memory (and, with the same data, again at every
 * start, since recovery rebuilds it). In this file those bytes are page cache, which the kernel
 * writes out and reclaims under pressure like any file's; what stays on the heap is about 150
 * bytes per chunk. A stream's newest chunk, still filling, joins them once the stream goes quiet
 * ({@link StreamIndex#park}), in a slot of its own size, so a log of many short streams does not
 * keep their entries on the heap either.
 *
 * <p>The file is made of pages of {@link #PAGE_BYTES}, one full chunk each; a page taken for a
 * smaller chunk is cut into slots of one size (4, 8, ... 2,048 messages' worth) and serves only
 * that size from then on. A chunk is written whole into a slot with a positional write (a full disk
 * fails that write, and the chunk stays on the heap until it is trimmed or the server restarts; a
 * write through the mapping would fault instead), and read through the mapping; a full chunk is
 * written once, a parked one again each time its stream goes quiet. Slots of trimmed, dropped or
 * unparked chunks are reused, but their blocks are not given back: the file takes the disk space
 * of the most slots held at once since the log was opened, rounded up to whole pages of each size
 * (a slot is its chunk's entries rounded up to a power of two, so up to twice them). The file is unlinked as soon as it is open: it is
 * a cache of what the segments and their index files say, rebuilt at every open, so a crash leaves
 * nothing behind and no directory listing of a local file system sees it. Its space does not count
 * against {@code --max-store-size}.
 *
 * <p>The mappings belong to an automatic arena: a read that races {@link #close} (a catch-up still
 * running while the server shuts down) still reads mapped memory, and they (and the unlinked
 * file's disk space) go once no chunk refers to them and a garbage collection has run. A shared
 * arena, closed with the file, gave the space back at once, but left such a read an {@link
 * IllegalStateException}, and closing a shared arena while another thread reads it has had JDK
 * bugs of its own.
 *
 * <p>Thread-safety: all methods are safe from any thread; a slot's memory, once returned by
 * {@link #store}, is read-only until {@link #free} (the index's monitor orders the two).
 */
final class ChunkFile implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ChunkFile.class.getName());
    /** A page: the three fields of a full chunk as ints (positions, then log offsets, then lengths). */
    static final int PAGE_BYTES = StreamIndex.CHUNK * 3 * Integer.BYTES;
    /** The fewest messages a slot holds; slots hold 4, 8, ... {@link StreamIndex#CHUNK}. */
    static final int SMALLEST = 4;

    private static final int SIZES = Integer.numberOfTrailingZeros(StreamIndex.CHUNK / SMALLEST) + 1;
    /** A slot's handle is its page times this plus its place in the page. */
    private static final int PER_PAGE = StreamIndex.CHUNK / SMALLEST;
    /** Pages per mapping: 24 MiB, about two million messages' worth. */
    private static final int PAGES_PER_REGION = 512;

    private static final long REGION_BYTES = (long) PAGE_BYTES * PAGES_PER_REGION;

    private final FileChannel channel;
    private final Arena arena = Arena.ofAuto();
    private final ByteBuffer staging = ByteBuffer.allocateDirect(PAGE_BYTES).order(ByteOrder.nativeOrder());
    private final List<MemorySegment> regions = new ArrayList<>();
    /** Free slots of each size, reused first; whole free pages are the free slots of the largest. */
    private final int[][] free = new int[SIZES][];

    private final int[] freeCount = new int[SIZES];
    /**
     * Pages ever taken: the file's used length is this many pages. Written under the monitor,
     * volatile for {@link #pages}, which {@code /metrics} reads without it (the writer holds the
     * monitor across a chunk's disk write).
     */
    private volatile int pages;

    private int inUse;
    private boolean writeFailed;
    private boolean closed;

    private ChunkFile(FileChannel channel) {
        this.channel = channel;
        for (int i = 0; i < SIZES; i++) {
            free[i] = new int[16];
        }
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

    /** The slot size, in messages, that takes {@code n} of them: the next power of two, at least {@link #SMALLEST}. */
    static int sizeFor(int n) {
        return Math.max(SMALLEST, Integer.highestOneBit(Math.max(1, n - 1)) << 1);
    }

    /**
     * Keeps a chunk's first {@code size} values of each field ({@code size} from {@link #sizeFor}:
     * {@link StreamIndex#CHUNK} for a full chunk).
     *
     * @return the slot, with its memory ({@link #memory}), or -1 when the file cannot take it
     *     (the disk is full, or the file is closed): the caller keeps the chunk on the heap
     */
    synchronized int store(int[] positions, int[] locations, int[] lengths, int size) {
        if (closed) {
            return -1;
        }
        int c = sizeClass(size);
        int slot = take(c);
        try {
            int page = slot / PER_PAGE;
            while (page / PAGES_PER_REGION >= regions.size()) {
                regions.add(channel.map(
                        FileChannel.MapMode.READ_ONLY, (long) regions.size() * REGION_BYTES, REGION_BYTES, arena));
            }
            staging.clear();
            staging.asIntBuffer()
                    .put(positions, 0, size)
                    .put(locations, 0, size)
                    .put(lengths, 0, size);
            staging.limit(size * 3 * Integer.BYTES);
            long at = offset(slot, size);
            while (staging.hasRemaining()) {
                at += channel.write(staging, at);
            }
        } catch (IOException | RuntimeException e) {
            give(c, slot); // back where it was: free
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
        inUse++;
        return slot;
    }

    /** The memory of a slot {@link #store} returned for {@code size} messages: its positions, log offsets and lengths as ints. */
    synchronized MemorySegment memory(int slot, int size) {
        int page = slot / PER_PAGE;
        long at = offset(slot, size) - (long) (page / PAGES_PER_REGION) * REGION_BYTES;
        return regions.get(page / PAGES_PER_REGION).asSlice(at, (long) size * 3 * Integer.BYTES);
    }

    /** Gives a slot of {@code size} messages back for reuse; its memory must no longer be read. */
    synchronized void free(int slot, int size) {
        give(sizeClass(size), slot);
        inUse--;
    }

    /** Slots holding a chunk now (tests). */
    synchronized int slotsInUse() {
        return inUse;
    }

    /**
     * Pages taken so far: the file's length in {@link #PAGE_BYTES}, the most it has held since it
     * was opened (freed slots are reused, not given back). Any thread, without waiting for a write.
     */
    int pages() {
        return pages;
    }

    private static int sizeClass(int size) {
        if (Integer.bitCount(size) != 1 || size < SMALLEST || size > StreamIndex.CHUNK) {
            throw new IllegalArgumentException("not a slot size: " + size);
        }
        return Integer.numberOfTrailingZeros(size / SMALLEST);
    }

    private static long offset(int slot, int size) {
        return (long) (slot / PER_PAGE) * PAGE_BYTES + (long) (slot % PER_PAGE) * size * 3 * Integer.BYTES;
    }

    /** A free slot of size class {@code c}: a reused one, else one of a new page's (cut into slots of that size). */
    private int take(int c) {
        if (freeCount[c] > 0) {
            return free[c][--freeCount[c]];
        }
        int whole = SIZES - 1;
        int page = freeCount[whole] > 0 ? free[whole][--freeCount[whole]] / PER_PAGE : pages++;
        for (int i = (1 << (whole - c)) - 1; i >= 1; i--) {
            give(c, page * PER_PAGE + i);
        }
        return page * PER_PAGE;
    }

    private void give(int c, int slot) {
        if (freeCount[c] == free[c].length) {
            free[c] = Arrays.copyOf(free[c], freeCount[c] * 2);
        }
        free[c][freeCount[c]++] = slot;
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
