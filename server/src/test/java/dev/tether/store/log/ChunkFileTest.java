package dev.tether.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A chunk file that cannot take a write (a full disk) leaves the chunk on the heap, read right,
 * loses no slot, and takes chunks again once the disk does.
 */
class ChunkFileTest {
    @Test
    void aWriteThatFailsKeepsTheChunkOnTheHeapAndLosesNoSlot(@TempDir Path dir) throws Exception {
        FailingChannel channel = new FailingChannel(FileChannel.open(
                dir.resolve("chunks"),
                StandardOpenOption.CREATE_NEW,
                StandardOpenOption.READ,
                StandardOpenOption.WRITE));
        try (ChunkFile file = ChunkFile.on(channel)) {
            StreamIndex index = new StreamIndex(file);
            add(index, 0, 2 * StreamIndex.CHUNK);
            assertEquals(2, file.slotsInUse());
            index.trim(StreamIndex.CHUNK); // the first chunk's slot is free again

            channel.full = true;
            add(index, 2 * StreamIndex.CHUNK, StreamIndex.CHUNK);
            assertEquals(1, file.slotsInUse(), "the failed write took no slot");
            assertEquals(1, index.chunksOnHeap(), "the full chunk the file refused stays on the heap");
            assertEquals(
                    2 * StreamIndex.CHUNK + 7L,
                    index.range(2 * StreamIndex.CHUNK + 7L, Long.MAX_VALUE, 1).location(0),
                    "and is read from there");

            channel.full = false;
            add(index, 3 * StreamIndex.CHUNK, StreamIndex.CHUNK);
            assertEquals(2, file.slotsInUse(), "the disk takes writes again: the next full chunk moves");
            assertEquals(1, index.chunksOnHeap());
            assertEquals(2, channel.slotsWritten / ChunkFile.SLOT_BYTES, "the free slot was reused, not a new one");
            assertEquals(
                    3 * StreamIndex.CHUNK + 9L,
                    index.range(3 * StreamIndex.CHUNK + 9L, Long.MAX_VALUE, 1).location(0));
        }
    }

    /** Messages {@code from} to {@code from + n}: one byte each, its log offset its position. */
    private static void add(StreamIndex index, long from, int n) {
        for (long p = from; p < from + n; p++) {
            index.add(p, p, 1);
        }
    }

    /** A file channel whose positional writes fail with ENOSPC's message while {@link #full}. */
    private static final class FailingChannel extends FileChannel {
        private final FileChannel file;
        volatile boolean full;
        /** The end of the furthest byte written, in bytes. */
        long slotsWritten;

        FailingChannel(FileChannel file) {
            this.file = file;
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            if (full) {
                throw new IOException("No space left on device");
            }
            int n = file.write(src, position);
            slotsWritten = Math.max(slotsWritten, position + n);
            return n;
        }

        @Override
        public MemorySegment map(MapMode mode, long offset, long size, Arena arena) throws IOException {
            return file.map(mode, offset, size, arena);
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return file.read(dst);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
            return file.read(dsts, offset, length);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            return file.write(src);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            return file.write(srcs, offset, length);
        }

        @Override
        public long position() throws IOException {
            return file.position();
        }

        @Override
        public FileChannel position(long newPosition) throws IOException {
            file.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException {
            return file.size();
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            file.truncate(size);
            return this;
        }

        @Override
        public void force(boolean metaData) throws IOException {
            file.force(metaData);
        }

        @Override
        public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
            return file.transferTo(position, count, target);
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            return file.transferFrom(src, position, count);
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            return file.read(dst, position);
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
            return file.map(mode, position, size);
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) throws IOException {
            return file.lock(position, size, shared);
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) throws IOException {
            return file.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            file.close();
        }
    }
}
