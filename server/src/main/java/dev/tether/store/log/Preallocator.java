package dev.tether.store.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Makes the log's next segment ahead of time, off the writer's path: a spare file of the segment
 * size, written full of zeros and synced, which the writer renames into place when it rolls
 * ({@link Segment#adopt}). Data written into it later needs only an {@code fdatasync} of the data:
 * the file's size and blocks are already on disk (see {@link Segment}).
 *
 * <p>The spare is asked for at the active segment's first write. Its zeros are written with
 * {@code O_DIRECT} (when the file system has it) in {@link #CHUNK}-byte writes, paced to stay at
 * most 1.25 times the active segment's data (plus {@link #LEAD}) ahead, then synced once: the
 * device's cache flush at each group commit carries the zeros written since the last one, so zeros
 * written in bursts (or in large synced steps) made the log's own {@code fdatasync} tail longer.
 * Paced, the disk writes about twice the log's bytes, spread evenly. A roll that comes before the
 * spare is ready starts a plain segment, as without preallocation. A spare left by a crash is
 * deleted at open (it may be unfinished). On disk the log takes up to one segment more: the spare.
 *
 * <p>Thread-safety: {@link #request} and {@link #take} from the writer thread; the spare is
 * written on a thread of its own; {@link #close} from any.
 */
final class Preallocator implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Preallocator.class.getName());
    /** The spare's name: not a segment's ({@code [0-9]{20}.seg}), so recovery never reads it. */
    static final String SPARE = "next-segment.zeroed";

    /** One write of zeros: small, so that the log's own flush never waits behind much of the spare. */
    private static final int CHUNK = 64 << 10;
    /** How far the spare may run ahead of 1.25 times the active segment's data. */
    private static final long LEAD = 1L << 20;
    /** The spare is written afresh each time (an earlier one was taken, or deleted). */
    private static final Set<OpenOption> CREATE_NEW =
            Set.of(StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);

    private final Path spare;
    private final long bytes;
    /** How much data the active segment holds (what paces the zeros). */
    private final LongSupplier filled;
    /** The thread writing the spare, or null. */
    private Thread making;
    /** A spare of {@link #bytes} zeros, synced, is there to take. */
    private volatile boolean ready;

    /** The spare under way is to stop (and be deleted); set by {@link #discard} and {@link #close}. */
    private volatile boolean stop;

    private boolean closed;

    /**
     * @param bytes the size of a segment
     * @param filled how much data the active segment holds
     */
    Preallocator(Path dir, long bytes, LongSupplier filled) {
        this.spare = dir.resolve(SPARE);
        this.bytes = bytes;
        this.filled = filled;
    }

    /** At open: a spare that was being written when the process stopped may be unfinished. */
    void discardLeftover() throws IOException {
        Files.deleteIfExists(spare);
    }

    /** Starts making the spare, unless it is ready or under way. */
    synchronized void request() {
        if (ready || making != null || closed) {
            return;
        }
        stop = false;
        making = Thread.ofPlatform().name("tether-log-preallocate").daemon().start(this::make);
    }

    private void make() {
        boolean done = false;
        try {
            FileStore disk = Files.getFileStore(spare.getParent());
            if (disk.getUsableSpace() < 2 * bytes) { // the log's own writes come first
                LOG.log(
                        System.Logger.Level.DEBUG,
                        "not preallocating the next log segment: " + disk.getUsableSpace() + " bytes free on the disk");
                return;
            }
            try (FileChannel c = openSpare()) {
                zero(c, (int) disk.getBlockSize());
            }
            done = !stop;
        } catch (IOException | UnsupportedOperationException e) {
            if (!stop) { // else the store stopped it mid-write
                LOG.log(
                        System.Logger.Level.WARNING,
                        "could not preallocate the next log segment (" + e.getMessage() + "); it starts empty instead");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // stopped while waiting for data
        } finally {
            if (!done) {
                deleteSpare(); // never leave zeros on a disk the log may need
            }
            synchronized (this) {
                ready = done;
                making = null;
            }
        }
    }

    /** The spare, opened with {@code O_DIRECT} where the file system has it. */
    private FileChannel openSpare() throws IOException {
        Set<OpenOption> direct = new HashSet<>(CREATE_NEW);
        try {
            direct.add(directOption());
            return FileChannel.open(spare, direct);
        } catch (IOException | UnsupportedOperationException e) {
            return FileChannel.open(spare, CREATE_NEW); // no O_DIRECT here (tmpfs, some network file systems)
        }
    }

    /**
     * Writes the zeros in chunks, paced by the active segment's data, then syncs them.
     *
     * @param align the disk's block size: {@code O_DIRECT} writes must be aligned to it
     */
    private void zero(FileChannel c, int align) throws IOException, InterruptedException {
        ByteBuffer zeros = ByteBuffer.allocateDirect(CHUNK + align).alignedSlice(align);
        long rounded = (bytes + align - 1) / align * align;
        long idle = 1;
        for (long at = 0; at < rounded && !stop; ) {
            if (at > filled.getAsLong() * 5 / 4 + LEAD) {
                Thread.sleep(idle);
                idle = Math.min(idle * 2, 100);
                continue;
            }
            idle = 1;
            zeros.clear().limit((int) Math.min(zeros.capacity(), rounded - at));
            at += c.write(zeros, at);
        }
        c.force(true);
    }

    static OpenOption directOption() {
        try { // O_DIRECT: not in the standard options; jdk.unsupported's ExtendedOpenOption.DIRECT
            return (OpenOption) Class.forName("com.sun.nio.file.ExtendedOpenOption")
                    .getField("DIRECT")
                    .get(null);
        } catch (ReflectiveOperationException e) {
            throw new UnsupportedOperationException("no O_DIRECT in this JDK", e);
        }
    }

    /**
     * The spare as the segment starting at {@code base}, or null when none is ready (the caller
     * starts a plain one).
     */
    synchronized Segment take(Path dir, long base) throws IOException {
        if (!ready) {
            return null;
        }
        ready = false;
        return Segment.adopt(spare, dir, base);
    }

    /** Tests: waits until a spare asked for is ready (or failed). */
    void awaitMaking() throws InterruptedException {
        Thread t;
        synchronized (this) {
            t = making;
        }
        if (t != null) {
            t.join();
        }
    }

    /**
     * Gives the spare's disk space back (a log write failed, perhaps for want of space): stops a
     * spare under way and deletes it, ready or not. A later {@link #request} starts again.
     */
    void discard() {
        halt();
        synchronized (this) {
            ready = false;
        }
        deleteSpare();
    }

    /** Stops a spare under way; a finished one stays for the next open to delete. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        halt();
    }

    private void halt() {
        stop = true;
        synchronized (this) {
            if (making != null) {
                making.interrupt(); // out of its wait for data; a write it was in fails, which is fine
            }
        }
        try {
            awaitMaking();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void deleteSpare() {
        try {
            Files.deleteIfExists(spare);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not delete the log's spare segment " + spare + ": " + e);
        }
    }
}
