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
            assertEquals(2, channel.slotsWritten / ChunkFile.PAGE_BYTES, "the free slot was reused, not a new one");
            assertEquals(
                    3 * StreamIndex.CHUNK + 9L,
                    index.range(3 * StreamIndex.CHUNK + 9L, Long.MAX_VALUE, 1).location(0));
        }
    }

    /**
     * Slots of every size, mixed, each read back as written (none overlaps another); a slot given
     * back is taken again by its size, and a whole page given back is cut into smaller slots
     * before a new page is taken.
     */
    @Test
    void slotsOfEverySizeHoldWhatWasWrittenAndAFreedPageServesSmallerOnes(@TempDir Path dir) {
        try (ChunkFile file = ChunkFile.open(dir)) {
            java.util.Random random = new java.util.Random(7);
            java.util.List<int[]> kept = new java.util.ArrayList<>(); // {slot, size, seed}
            for (int i = 0; i < 400; i++) {
                int size = ChunkFile.SMALLEST << random.nextInt(11);
                int slot = file.store(values(i, 0, size), values(i, 1, size), values(i, 2, size), size);
                kept.add(new int[] {slot, size, i});
            }
            for (int[] k : kept) {
                MemorySegment m = file.memory(k[0], k[1]);
                for (int field = 0; field < 3; field++) {
                    int[] read = new int[k[1]];
                    MemorySegment.copy(
                            m,
                            java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED,
                            (long) field * k[1] * 4,
                            read,
                            0,
                            k[1]);
                    assertEquals(java.util.Arrays.toString(values(k[2], field, k[1])), java.util.Arrays.toString(read));
                }
            }
            assertEquals(400, file.slotsInUse());
        }
        try (ChunkFile file = ChunkFile.open(dir)) {
            int[] v = values(1, 0, StreamIndex.CHUNK);
            int whole = file.store(v, v, v, StreamIndex.CHUNK);
            int eight = file.store(v, v, v, 8);
            assertEquals(2, file.pages());
            file.free(eight, 8);
            assertEquals(eight, file.store(v, v, v, 8), "a free slot of its size is taken again");
            file.free(whole, StreamIndex.CHUNK);
            file.store(v, v, v, 16);
            assertEquals(2, file.pages(), "the page the full chunk gave back is cut into slots of 16");
            file.store(v, v, v, StreamIndex.CHUNK);
            assertEquals(3, file.pages());
        }
    }

    /** {@code size} values, different for every seed and field. */
    private static int[] values(int seed, int field, int size) {
        int[] v = new int[size];
        for (int i = 0; i < size; i++) {
            v[i] = seed * 1_000_003 + field * 100_000 + i;
        }
        return v;
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
