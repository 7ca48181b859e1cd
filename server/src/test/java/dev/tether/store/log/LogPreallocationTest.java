package dev.tether.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tether.store.Commit;
import dev.tether.store.Mutation;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamStoreContract;
import dev.tether.testing.Tmpfs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Zero-filled segments ({@link Preallocator}): the next segment is made while the active one
 * fills; its zero tail is never read as data, never left behind a sealed segment, and whatever a
 * crash or a power loss leaves in it is cleared rather than replayed.
 */
class LogPreallocationTest {
    private static final long SEGMENT = 4096;
    private static final StreamRecord S = StreamStoreContract.stream(1, "s");

    @TempDir
    Path dir;

    private final StringBuilder written = new StringBuilder();

    private void append(LogStreamStore store, String text) throws StoreException {
        long at = written.length();
        written.append(text);
        store.commit(Commit.unconditional(List.of(
                new Mutation.AppendMessages(1, List.of(new StoredMessage(at, text.getBytes(StandardCharsets.UTF_8)))),
                new Mutation.PutStream(S.withTail(written.length())))));
    }

    private static String all(LogStreamStore store) throws StoreException {
        StringBuilder out = new StringBuilder();
        for (StoredMessage m : store.read(1, 0, Long.MAX_VALUE, Integer.MAX_VALUE)) {
            out.append(new String(m.data(), StandardCharsets.UTF_8));
        }
        return out.toString();
    }

    private List<Path> segments() throws IOException {
        try (Stream<Path> files = Files.list(dir.resolve("log"))) {
            return files.filter(p -> p.toString().endsWith(".seg")).sorted().toList();
        }
    }

    private Path newest() throws IOException {
        List<Path> segs = segments();
        return segs.get(segs.size() - 1);
    }

    private static long base(Path segment) {
        return Long.parseLong(segment.getFileName().toString().substring(0, 20));
    }

    /**
     * A spare's zeros go to disk with O_DIRECT, so none of its pages is cached, and a write into
     * part of such a page makes the kernel read the page from disk first, on the writer's path
     * (the control: one plain write proves this file system does that). Appends into a spare fill
     * each new page they end in to its end instead (with the zeros already there): 700 appends of
     * 100 bytes, running past the spare's end, read nothing from the disk and leave the data,
     * then zeros up to the spare's length, then nothing.
     */
    @Test
    void appendsIntoASpareReadNothingFromTheDisk() throws Exception {
        Path io = Path.of("/proc/thread-self/io");
        assumeTrue(Files.isReadable(io), "needs per-thread I/O accounting (/proc/thread-self/io)");
        int bytes = 64 << 10;
        byte[] record = new byte[100];
        java.util.Arrays.fill(record, (byte) 'x');
        try (FileChannel control = FileChannel.open(zeroed("control", bytes), StandardOpenOption.WRITE)) {
            long before = readBytes(io);
            control.write(ByteBuffer.wrap(record), 100);
            assumeTrue(readBytes(io) > before, "needs a file system that reads a page before a partial write");
        }
        try (Segment warm = Segment.adopt(zeroed("warm", bytes), dir, 1L << 40)) {
            warm.append(ByteBuffer.wrap(record)); // loads what a first padded write needs
        }
        try (Segment s = Segment.adopt(zeroed("spare", bytes), dir, 0)) {
            long before = readBytes(io);
            for (int i = 0; i < 700; i++) {
                s.append(ByteBuffer.wrap(record));
            }
            assertEquals(0, readBytes(io) - before, "bytes this thread read from the disk while appending");
            assertEquals(70_000, s.size());
            assertEquals(70_000, s.channel.size(), "the file grows only past the spare's end");
            ByteBuffer file = ByteBuffer.allocate(70_000);
            while (file.hasRemaining() && s.channel.read(file, file.position()) >= 0) {}
            for (int i = 0; i < 70_000; i++) {
                assertEquals('x', file.get(i), "byte " + i);
            }
        }
    }

    /** A file of {@code bytes} zeros written with O_DIRECT (so none of it is cached), synced. */
    private Path zeroed(String name, int bytes) throws IOException {
        Path file = dir.resolve(name);
        int block = (int) Files.getFileStore(dir).getBlockSize();
        try (FileChannel c = FileChannel.open(
                file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, Preallocator.directOption())) {
            ByteBuffer zeros = ByteBuffer.allocateDirect(bytes + block).alignedSlice(block);
            zeros.limit(bytes);
            while (zeros.hasRemaining()) {
                c.write(zeros, zeros.position());
            }
            c.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            assumeTrue(false, "needs O_DIRECT on the test directory's file system: " + e);
        }
        return file;
    }

    private static long readBytes(Path io) throws IOException {
        for (String line : Files.readAllLines(io)) {
            if (line.startsWith("read_bytes:")) {
                return Long.parseLong(line.substring("read_bytes:".length()).trim());
            }
        }
        throw new IOException(io + " has no read_bytes");
    }

    /**
     * Fills the first segment past half (the spare is asked for), waits for the spare, and appends
     * until the log has rolled into it; returns the store, open.
     */
    private LogStreamStore rolledIntoASpare() throws Exception {
        LogStreamStore store = LogStreamStore.open(dir, SEGMENT);
        store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
        for (int i = 0; segments().size() == 1; i++) {
            append(store, "first-" + i + ";");
            store.awaitSpare(); // once past half the segment, the spare is under way: let it finish
        }
        append(store, "second;");
        store.sync();
        return store;
    }

    @Test
    void theNextSegmentIsZeroFilledAheadAndItsZerosAreNeverData() throws Exception {
        try (LogStreamStore store = rolledIntoASpare()) {
            List<Path> segs = segments();
            assertEquals(2, segs.size());
            assertEquals(SEGMENT, Files.size(segs.get(1)), "the new segment is the spare, written to full size");
            assertEquals(
                    base(segs.get(1)),
                    Files.size(segs.get(0)),
                    "the sealed segment is cut to its data: the next one starts where its data ends");
            store.awaitSpare();
            assertEquals(
                    SEGMENT,
                    Files.size(dir.resolve("log").resolve(Preallocator.SPARE)),
                    "the next spare is made as soon as the new segment takes data");
            assertEquals(written.toString(), all(store));
        }
        try (LogStreamStore store = LogStreamStore.open(dir, SEGMENT)) {
            assertEquals(written.toString(), all(store), "the zero tail ends the data at a reopen");
            append(store, "after-reopen;"); // must follow the data, not the zeros
            store.sync();
        }
        try (LogStreamStore store = LogStreamStore.open(dir, SEGMENT)) {
            assertEquals(written.toString(), all(store));
            assertEquals(SEGMENT, Files.size(newest()), "still preallocated");
            for (int i = 0; segments().size() == 2; i++) { // and on from a zero-filled segment into the next
                append(store, "second-" + i + ";");
                store.awaitSpare();
            }
            store.sync();
            List<Path> segs = segments();
            assertEquals(
                    base(segs.get(2)) - base(segs.get(1)),
                    Files.size(segs.get(1)),
                    "a zero-filled segment is cut to its data when it is sealed");
            assertEquals(SEGMENT, Files.size(segs.get(2)));
        }
        try (LogStreamStore store = LogStreamStore.open(dir, SEGMENT)) {
            assertEquals(written.toString(), all(store), "three segments, two of them zero-filled, read back");
        }
    }

    @Test
    void aTornBatchAndAStaleOneBeyondTheZerosAreClearedNotReplayed() throws Exception {
        try (LogStreamStore store = rolledIntoASpare()) {
            append(store, "stale;");
            store.sync();
        }
        // The newest segment's batches, walked by their headers: the last one is "stale;".
        byte[] file = Files.readAllBytes(newest());
        int dataEnd = 0;
        int last = 0;
        while (ByteBuffer.wrap(file, dataEnd, 4).getInt() == LogFormat.MAGIC) {
            last = dataEnd;
            dataEnd += LogFormat.HEADER + ByteBuffer.wrap(file, dataEnd + 4, 4).getInt();
        }
        byte[] lastBatch = java.util.Arrays.copyOfRange(file, last, dataEnd);
        dataEnd = last;
        written.setLength(written.length() - "stale;".length());
        try (FileChannel f = FileChannel.open(newest(), StandardOpenOption.WRITE)) {
            // A power loss lost the last batch (zeros again), but a batch written after it reached
            // the disk: it sits beyond a gap of zeros, valid in itself.
            f.write(ByteBuffer.allocate(lastBatch.length), dataEnd);
            f.write(ByteBuffer.wrap(lastBatch), dataEnd + 100);
            // and a torn one further on
            f.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), SEGMENT - 10);
        }
        try (LogStreamStore store = LogStreamStore.open(dir, SEGMENT)) {
            assertEquals(written.toString(), all(store), "nothing past the first gap is replayed");
            byte[] after = Files.readAllBytes(newest());
            for (int i = dataEnd; i < after.length; i++) {
                assertEquals(0, after[i], "byte " + i + " past the data was cleared");
            }
            assertEquals(SEGMENT, after.length, "the zero tail is kept");
        }
    }

    @Test
    void aPowerLossInAZeroFilledSegmentKeepsWhatWasSyncedAndTheLogGoesOn() throws Exception {
        try (LogStreamStore store = rolledIntoASpare()) {
            String synced = written.toString();
            append(store, "lost-1;");
            append(store, "lost-2;");
            store.dropUnsynced();
            written.setLength(synced.length());
        }
        try (LogStreamStore store = LogStreamStore.open(dir, SEGMENT)) {
            assertEquals(written.toString(), all(store), "the synced data, and nothing after it");
            append(store, "again;");
            store.sync();
        }
        try (LogStreamStore store = LogStreamStore.open(dir, SEGMENT)) {
            assertEquals(written.toString(), all(store));
        }
    }

    @Test
    void theZerosArePacedByTheActiveSegmentsData() throws Exception {
        AtomicLong filled = new AtomicLong();
        Path logDir = Files.createDirectories(dir.resolve("paced"));
        Path spare = logDir.resolve(Preallocator.SPARE);
        long bytes = 16L << 20;
        try (Preallocator p = new Preallocator(logDir, bytes, filled::get)) {
            p.request();
            Thread.sleep(500); // unpaced, 16 MiB takes far less on any disk this runs on
            long ahead = Files.size(spare);
            assertTrue(ahead <= (1 << 20) + (64 << 10), "with no data yet, only the lead is written: " + ahead);
            filled.set(bytes); // the active segment fills up: the spare catches up and is finished
            p.awaitMaking();
            assertEquals(bytes, Files.size(spare));
            assertTrue(p.take(logDir, 0) != null, "ready to take");
        }
    }

    @Test
    void offMeansNoSpare() throws Exception {
        Path on = dir.resolve("on");
        Path off = dir.resolve("off");
        try (LogStreamStore a = LogStreamStore.open(on, null, true);
                LogStreamStore b = LogStreamStore.open(off, null, false)) {
            for (LogStreamStore store : List.of(a, b)) {
                store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
            }
            Path spare = on.resolve("log").resolve(Preallocator.SPARE);
            for (int i = 0; i < 100 && Files.notExists(spare); i++) {
                Thread.sleep(50);
            }
            assertTrue(Files.exists(spare), "on: the spare is begun at the segment's first write");
            // not awaitSpare(): a spare under way waits for data that never comes here
            assertTrue(Files.notExists(off.resolve("log").resolve(Preallocator.SPARE)), "off: none");
        }
    }

    @Test
    void onAFullDiskTheSpareGivesItsSpaceBackToTheLog() throws Exception {
        try (Tmpfs disk = Tmpfs.mount(dir.resolve("disk"), "size=1m");
                LogStreamStore store = LogStreamStore.open(disk.path(), 256 << 10)) {
            Path mount = disk.path();
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
            append(store, "first;");
            store.awaitSpare();
            Path spare = mount.resolve("log").resolve(Preallocator.SPARE);
            assertEquals(256 << 10, Files.size(spare), "room for it: the spare is made");
            try (FileChannel filler =
                    FileChannel.open(mount.resolve("filler"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                while (true) { // something else takes the rest of the disk
                    filler.write(ByteBuffer.allocate(4096));
                }
            } catch (IOException full) {
                // the disk is full
            }
            StoreException refused = null;
            for (int i = 0; i < 1000 && refused == null; i++) {
                int before = written.length();
                try {
                    append(store, "x".repeat(1000));
                } catch (StoreException e) {
                    refused = e;
                    written.setLength(before);
                }
            }
            assertTrue(refused != null && refused.unavailable(), "the full disk refuses a write: " + refused);
            assertTrue(Files.notExists(spare), "and the spare's space is given back");
            append(store, "fits-again;");
            store.sync();
            assertEquals(written.toString(), all(store));
        }
    }

    @Test
    void aSpareLeftByACrashIsDiscardedAtOpen() throws Exception {
        Files.createDirectories(dir.resolve("log"));
        Path spare = dir.resolve("log").resolve(Preallocator.SPARE);
        Files.write(spare, new byte[] {9, 9, 9}); // unfinished, and not zeros
        try (LogStreamStore store = LogStreamStore.open(dir, SEGMENT)) {
            assertTrue(Files.notExists(spare));
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
        }
    }
}
