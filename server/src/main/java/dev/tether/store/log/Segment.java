package dev.tether.store.log;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * One segment file of the log: the bytes from log offset {@link #base} on, named by that offset
 * ({@code 00000000000000000000.seg}), appended to by the writer and read by anyone: through a
 * read-only mapping ({@link #view}), or positionally by recovery.
 *
 * <p>A segment may be <em>preallocated</em>: its file written full of zeros (and synced) before it
 * takes data ({@link Preallocator}). Its file is then longer than its data ({@link #size}), and an
 * {@code fdatasync} of data written into it has no file size or blocks to commit, only the data
 * (and, on ext4 without a journal, the inode's block after a write changed the modification
 * time), which on ext4 is cheaper (docs/benchmarks.md; PostgreSQL zero-fills its WAL segments for
 * this). The invariant recovery relies on: past {@link #size}, the file holds only zeros
 * ({@link #clearFrom}); a full segment is cut to its data when the next one starts ({@link #seal}).
 *
 * <p>Thread-safety: {@link #size} is written by the writer thread and read by any; positional
 * reads and {@code force} are safe alongside writes ({@link FileChannel} guarantees it). {@link
 * #append} moves the channel's position, so only the writer thread may use the position. The
 * mapping, and every change of the file's length, are guarded by the segment's monitor, so a
 * mapping is never made of a file being cut.
 */
final class Segment implements AutoCloseable {
    private static final int ZEROS = 1 << 20;
    /** The page size the kernel caches files in (and a multiple of the file system's block). */
    static final int PAGE = 4096;

    private static final ByteBuffer PAGE_OF_ZEROS =
            ByteBuffer.allocateDirect(PAGE).asReadOnlyBuffer();

    final long base;
    final Path file;
    final FileChannel channel;
    private volatile long size;
    /**
     * How much of the file the last {@link #force} covered: what a power loss cannot take. Only
     * {@link #dropUnsynced} reads it (and {@link #durableLength}): they model the disk for tests.
     */
    private volatile long durableSize;
    /** The size of the segment's index file once sealed ({@link SegmentIndex}). Writer thread (and recovery). */
    private long indexBytes;
    /** The file's length. Written by the writer thread (and recovery). */
    private volatile long length;
    /** The file length a power loss leaves: set by a sync, or by the file's preallocation. */
    private volatile long durableLength;
    /**
     * The file mapped for reads, or null; replaced by a larger one when a read needs more. Written
     * under this object's lock; volatile for {@link #resident}, which reads it without the lock.
     */
    private volatile Mapping mapping;
    /** Guarded by this. */
    private boolean closed;

    private Segment(long base, Path file, FileChannel channel, long size, long length, long durableLength) {
        this.base = base;
        this.file = file;
        this.channel = channel;
        this.size = size;
        this.length = length;
        this.durableLength = durableLength;
    }

    static String name(long base) {
        return String.format("%020d.seg", base);
    }

    static Segment open(Path dir, long base) throws IOException {
        return open(dir, base, true);
    }

    /**
     * Opens (or creates) the segment file at {@code base}. None of what it holds counts as durable
     * yet: after a crash of the process, not of the machine, the bytes it wrote but never flushed
     * are still in the page cache, and read back like the rest. Recovery says what is durable:
     * a segment before the last was synced when it was sealed ({@link #sealedBefore}); the last is
     * flushed before it is served ({@link #force}).
     *
     * @param writable false on a read-only disk: the file must exist and is only read
     */
    static Segment open(Path dir, long base, boolean writable) throws IOException {
        Path file = dir.resolve(name(base));
        FileChannel channel = writable
                ? FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(file, StandardOpenOption.READ);
        long length = channel.size();
        return new Segment(base, file, channel, length, length, 0);
    }

    /** Recovery: a segment before the last was cut to its data and synced before the next began ({@link #seal}). */
    void sealedBefore() {
        durableSize = size;
        durableLength = length;
    }

    /**
     * Recovery, on the last segment of a writable log, once its data's end is known: makes what
     * it holds durable, and its name with it (a roll killed before its directory sync left the
     * name unsynced), before any of it is served or written after.
     */
    void flushRecovered() throws IOException {
        force();
        LogDirectory.sync(file.getParent());
    }

    /**
     * Removes the file of the segment at {@code base}, which a roll that failed part-way made and
     * never wrote to (a spare renamed into place, or a new empty file). Not a directory or a link.
     */
    static void removeUnused(Path dir, long base) throws IOException {
        Path file = dir.resolve(name(base));
        if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            Files.delete(file);
        }
    }

    /**
     * Makes a zero-filled, synced file (a {@link Preallocator}'s spare) the segment starting at
     * {@code base}: renamed into place, holding no data yet. The caller syncs the directory.
     */
    static Segment adopt(Path spare, Path dir, long base) throws IOException {
        Path file = dir.resolve(name(base));
        Files.move(spare, file, StandardCopyOption.ATOMIC_MOVE);
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        long length = channel.size();
        return new Segment(base, file, channel, 0, length, length); // the spare's zeros were synced
    }

    /** Writes {@code bytes} zeros into {@code channel} from {@code from} on. */
    static void writeZeros(FileChannel channel, long from, long bytes) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocateDirect((int) Math.min(ZEROS, Math.max(1, bytes)));
        for (long at = from; at < from + bytes; ) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), from + bytes - at));
            at += channel.write(zeros, at);
        }
    }

    long indexBytes() {
        return indexBytes;
    }

    void indexBytes(long bytes) {
        indexBytes = bytes;
    }

    long size() {
        return size;
    }

    /** The log offset just past this segment's last byte. */
    long end() {
        return base + size;
    }

    /**
     * Appends {@code bytes} at the end; returns the log offset where they start.
     *
     * <p>In a preallocated segment the write also covers the zeros up to the next page boundary
     * ({@link #PAGE}): its zeros went to disk with {@code O_DIRECT}, so none of its pages is in
     * the page cache, and a write into part of such a page makes the kernel read the page from
     * disk first, synchronously, on the writer's path (seen as one disk read per 4 KiB of log,
     * docs/benchmarks.md). A write that fills the page to its end needs no read, and the next
     * write starts in a page that is now cached. The zeros written are zeros already there. Only
     * a write that ends in a page it did not start in partway (one no earlier write touched) pads.
     */
    long append(ByteBuffer bytes) throws IOException {
        long at = size;
        long end = at + bytes.remaining();
        boolean newPage = end % PAGE != 0 && (at % PAGE == 0 || end / PAGE != at / PAGE);
        int pad = newPage ? (int) (Math.min((end / PAGE + 1) * PAGE, length) - end) : 0;
        if (pad <= 0) {
            for (long written = 0; bytes.hasRemaining(); ) {
                written += channel.write(bytes, at + written);
            }
        } else {
            ByteBuffer[] both = {bytes, PAGE_OF_ZEROS.duplicate().limit(pad)};
            channel.position(at);
            while (both[1].hasRemaining()) {
                channel.write(both);
            }
        }
        length = Math.max(length, end);
        size = end;
        return base + at;
    }

    /** Cuts the file back to {@code length} bytes (a torn tail, or a write that failed halfway). */
    synchronized void truncate(long length) throws IOException {
        unmap();
        channel.truncate(length);
        size = length;
        this.length = length;
        durableSize = Math.min(durableSize, length);
        durableLength = Math.min(durableLength, length);
    }

    /**
     * Where the last byte that is not zero at or after {@code at} ends; {@code at} when the rest
     * of the file is zeros (the untouched tail of a preallocated segment).
     */
    long dirtyEnd(long at) throws IOException {
        long dirtyEnd = at;
        ByteBuffer b = ByteBuffer.allocateDirect(ZEROS);
        for (long pos = at; pos < length; pos += b.limit()) {
            b.clear().limit((int) Math.min(ZEROS, length - pos));
            while (b.hasRemaining() && channel.read(b, pos + b.position()) >= 0) {}
            for (int i = b.position() - 1; i >= 0; i--) {
                if (b.get(i) != 0) {
                    dirtyEnd = pos + i + 1;
                    break;
                }
            }
        }
        return dirtyEnd;
    }

    /** Recovery: the data ends at {@code at} (what follows is zeros, or is about to be cleared). */
    void endAt(long at) {
        size = at;
        durableSize = Math.min(durableSize, at);
    }

    /**
     * Recovery: the data ends at {@code at}, and the bytes up to {@code dirtyEnd} are not zeros (a
     * batch torn by a crash, or one a power loss left behind a lost one). They are overwritten
     * with zeros and synced, so no later append can end where a stale batch starts and bring it
     * back. (The file keeps its length: a zero tail is what a preallocated segment has anyway.)
     */
    void clearFrom(long at, long dirtyEnd) throws IOException {
        endAt(at);
        writeZeros(channel, at, dirtyEnd - at);
        force();
    }

    /** A full segment, before the next one starts: its zero tail cut, and its data and length synced. */
    void seal() throws IOException {
        if (length > size) {
            synchronized (this) {
                unmap();
                channel.truncate(size);
                length = size;
            }
        }
        long covered = size;
        channel.force(true); // the new length too, before a later segment can exist
        durableSize = Math.max(durableSize, covered);
        durableLength = covered;
    }

    /** Reads {@code length} bytes at log offset {@code location}. */
    byte[] read(long location, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        long at = location - base;
        while (b.hasRemaining()) {
            if (channel.read(b, at + b.position()) < 0) {
                throw new IOException(file + " ends before offset " + (at + length));
            }
        }
        return b.array();
    }

    /**
     * A read-only mapping of the file, for reads that hand bytes on ({@link LogReader#scan}): a
     * reader copies straight from the page cache, with no read call and no buffer of its own in
     * between. Counted: the segment holds one use while the mapping is its current one, and each
     * read one more until {@link #release}; the last release unmaps it. Unmapping when no read
     * holds it, rather than when the GC finds it unreachable, gives a deleted segment's disk
     * space back at once and keeps every copy out of unmapped memory.
     */
    static final class Mapping {
        private final Arena arena;
        private final MemorySegment bytes;
        private int uses = 1;

        private Mapping(Arena arena, MemorySegment bytes) {
            this.arena = arena;
            this.bytes = bytes;
        }
    }

    /**
     * The {@code count} bytes at log offset {@code location}, as a view of the mapped file that
     * stays valid until {@code held} is passed to {@link #release}. Maps the file at the first
     * read, and again (larger) when a read needs bytes written since (a segment that was not
     * preallocated grows).
     */
    synchronized ByteBuffer view(long location, int count, Mapping[] held) throws IOException {
        if (closed) {
            throw new ClosedChannelException();
        }
        long at = location - base;
        long end = at + count;
        if (end > length) {
            throw new IOException(file + " ends before offset " + end);
        }
        if (mapping == null || mapping.bytes.byteSize() < end) {
            Arena arena = Arena.ofShared();
            MemorySegment bytes;
            // From a channel of its own, opened read-only: mapping through a writable channel
            // would lengthen a file shorter than the mapping instead of refusing.
            try (FileChannel reading = FileChannel.open(file, StandardOpenOption.READ)) {
                long fileSize = reading.size();
                if (fileSize < end) {
                    throw new IOException(file + " ends before offset " + end);
                }
                bytes = reading.map(FileChannel.MapMode.READ_ONLY, 0, fileSize, arena);
            } catch (IOException | RuntimeException e) {
                arena.close();
                throw e;
            }
            unmap();
            mapping = new Mapping(arena, bytes);
        }
        ByteBuffer view = mapping.bytes.asSlice(at, count).asByteBuffer();
        mapping.uses++;
        held[0] = mapping;
        return view;
    }

    /**
     * Whether the {@code count} bytes at log offset {@code location} are in the current mapping
     * and all resident in memory ({@code mincore}): a {@link #view} of them and a copy out of it
     * then read no disk. False when the file is not mapped yet or the mapping ends before them
     * (the read that maps it may block). Never blocks: it takes no lock, so an event loop asking
     * never waits for a writer sealing the segment or a reader mapping it; a mapping unmapped
     * meanwhile answers false.
     */
    boolean resident(long location, long count) {
        Mapping m = mapping;
        long at = location - base;
        if (m == null || at < 0 || at + count > m.bytes.byteSize()) { // closing unmaps: null
            return false;
        }
        try {
            return m.bytes.asSlice(at, count).isLoaded();
        } catch (IllegalStateException unmapped) { // its arena closed since we read the field
            return false;
        }
    }

    /** Ends a read's use of a mapping {@link #view} handed out. */
    synchronized void release(Mapping m) {
        if (--m.uses == 0) {
            m.arena.close();
        }
    }

    /**
     * Gives up the segment's own use of its mapping (the file is closing or getting shorter, or a
     * larger mapping replaces it); reads still holding it keep it until they release it.
     */
    private synchronized void unmap() {
        if (mapping != null) {
            release(mapping);
            mapping = null;
        }
    }

    void force() throws IOException {
        long covered = size;
        long coveredLength = length;
        channel.force(false); // fdatasync: the data and the size, not the mtime
        durableSize = Math.max(durableSize, covered);
        durableLength = Math.max(durableLength, coveredLength);
    }

    /**
     * Tests: a power loss, which takes every byte no {@link #force} covered: the file goes back to
     * its last synced length, and what was written into its zero-filled tail since is zeros again.
     */
    synchronized void dropUnsynced() throws IOException {
        long unsyncedFrom = durableSize;
        long keep = Math.max(durableLength, unsyncedFrom);
        if (length > keep) {
            unmap();
            channel.truncate(keep);
            length = keep;
        }
        if (size > unsyncedFrom) {
            writeZeros(channel, unsyncedFrom, Math.min(size, length) - unsyncedFrom);
        }
        size = unsyncedFrom;
    }

    @Override
    public void close() throws IOException {
        synchronized (this) {
            closed = true;
            unmap();
        }
        channel.close();
    }
}
