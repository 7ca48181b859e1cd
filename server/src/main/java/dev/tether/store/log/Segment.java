package dev.tether.store.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One segment file of the log: the bytes from log offset {@link #base} on, named by that offset
 * ({@code 00000000000000000000.seg}), appended to by the writer and read positionally by anyone.
 *
 * <p>Thread-safety: {@link #size} is written by the writer thread and read by any; positional
 * reads and {@code force} are safe alongside writes ({@link FileChannel} guarantees it).
 */
final class Segment implements AutoCloseable {
    final long base;
    final Path file;
    final FileChannel channel;
    private volatile long size;
    /** How much of the file the last {@link #force} covered: what a power loss cannot take. */
    private volatile long durableSize;

    private Segment(long base, Path file, FileChannel channel, long size) {
        this.base = base;
        this.file = file;
        this.channel = channel;
        this.size = size;
        this.durableSize = size;
    }

    static String name(long base) {
        return String.format("%020d.seg", base);
    }

    static Segment open(Path dir, long base) throws IOException {
        return open(dir, base, true);
    }

    /** @param writable false on a read-only disk: the file must exist and is only read */
    static Segment open(Path dir, long base, boolean writable) throws IOException {
        Path file = dir.resolve(name(base));
        FileChannel channel = writable
                ? FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(file, StandardOpenOption.READ);
        return new Segment(base, file, channel, channel.size());
    }

    long size() {
        return size;
    }

    /** The log offset just past this segment's last byte. */
    long end() {
        return base + size;
    }

    /** Appends {@code bytes} at the end; returns the log offset where they start. */
    long append(ByteBuffer bytes) throws IOException {
        long at = size;
        long written = 0;
        while (bytes.hasRemaining()) {
            written += channel.write(bytes, at + written);
        }
        size = at + written;
        return base + at;
    }

    /** Cuts the file back to {@code length} bytes (a torn tail, or a write that failed halfway). */
    void truncate(long length) throws IOException {
        channel.truncate(length);
        size = length;
        durableSize = Math.min(durableSize, length);
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

    /** Fills {@code into} (position to limit) from log offset {@code location}, and flips it. */
    void read(long location, ByteBuffer into) throws IOException {
        long at = location - base;
        int start = into.position();
        while (into.hasRemaining()) {
            if (channel.read(into, at + into.position() - start) < 0) {
                throw new IOException(file + " ends before offset " + (at + into.limit() - start));
            }
        }
        into.flip().position(start);
    }

    void force() throws IOException {
        long covered = size;
        channel.force(false); // fdatasync: the data and the size, not the mtime
        durableSize = Math.max(durableSize, covered);
    }

    /** Tests: a power loss, which takes every byte no {@link #force} covered. */
    void dropUnsynced() throws IOException {
        truncate(durableSize);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
