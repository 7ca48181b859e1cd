package dev.tether.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.Commit;
import dev.tether.store.Mutation;
import dev.tether.store.ProducerRecord;
import dev.tether.store.StoreContents;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The log store on real files: what a reopen recovers, a torn or corrupted tail cut off, the
 * writes a power loss drops (unsynced page-cache data) never half-applied, damage before the tail
 * refused, reads across segments.
 */
class LogStreamStoreTest {
    @TempDir
    Path dir;

    private static final StreamRecord S = StreamStoreContract.stream(1, "s");

    /** Appends {@code text} to stream 1 at {@code at}, moving its record's tail, with producer p at {@code seq}. */
    private static Commit append(long at, String text, long seq) {
        byte[] data = text.getBytes(StandardCharsets.UTF_8);
        return Commit.unconditional(List.of(
                new Mutation.AppendMessages(1, List.of(new StoredMessage(at, data))),
                new Mutation.PutStream(S.withTail(at + data.length)),
                new Mutation.PutProducer(new ProducerRecord(1, "p", 0, seq))));
    }

    private static String all(LogStreamStore store) throws StoreException {
        StringBuilder out = new StringBuilder();
        for (StoredMessage m : store.read(1, 0, Long.MAX_VALUE, Integer.MAX_VALUE)) {
            out.append(new String(m.data(), StandardCharsets.UTF_8));
        }
        return out.toString();
    }

    private Path onlySegment() throws IOException {
        // the newest: with a checkpoint and several segments, the one the tail tests damage
        try (Stream<Path> files = Files.list(dir.resolve("log"))) {
            List<Path> segs =
                    files.filter(p -> p.toString().endsWith(".seg")).sorted().toList();
            return segs.get(segs.size() - 1);
        }
    }

    /** How many bytes of the newest segment from {@code from} on are not zero. */
    private long nonZeroBytesFrom(long from) throws IOException {
        byte[] all = Files.readAllBytes(onlySegment());
        long n = 0;
        for (int i = (int) from; i < all.length; i++) {
            n += all[i] != 0 ? 1 : 0;
        }
        return n;
    }

    /** Creates stream 1 and appends "one" (seq 0), synced. */
    private static void createAndWriteOne(LogStreamStore store) throws StoreException {
        store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
        store.commit(append(0, "one", 0));
        store.sync();
    }

    /** The file name of the segment after the newest one, as the next roll makes it. */
    private Path nextSegment() throws IOException {
        Path last = onlySegment();
        long end = Long.parseLong(last.getFileName().toString().substring(0, 20)) + Files.size(last);
        return dir.resolve("log").resolve(Segment.name(end));
    }

    /** Creates stream 1 and appends "one", "two", "three" (seq 0, 1, 2), unsynced. */
    private static void writeThree(LogStreamStore store) throws StoreException {
        store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
        store.commit(append(0, "one", 0));
        store.commit(append(3, "two", 1));
        store.commit(append(6, "three", 2));
    }

    /** Creates stream 1 and appends "x0;" to "x29;" (seq 0 to 29) across several 256-byte segments, unsynced; returns its tail. */
    private static long writeThirty(LogStreamStore store) throws StoreException {
        store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
        long at = 0;
        for (int i = 0; i < 30; i++) {
            store.commit(append(at, "x" + i + ";", i));
            at += ("x" + i + ";").length();
        }
        return at;
    }

    /** The log of 256-byte segments, reopened, holds all of {@link #writeThirty} and its producer state. */
    private void assertThirty(String what) throws StoreException {
        try (LogStreamStore store = LogStreamStore.open(dir, 256)) {
            String text = all(store);
            assertTrue(text.startsWith("x0;x1;") && text.endsWith("x29;"), what + ": " + text);
            assertEquals(
                    List.of(new ProducerRecord(1, "p", 0, 29)), store.load().producers());
        }
    }

    /** Writes "one", "two", "three" (seq 0, 1, 2), synced; returns the log's size then. */
    private long threeSynced() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            writeThree(store);
            store.sync();
        }
        return Files.size(onlySegment());
    }

    private void assertThree(LogStreamStore store) throws StoreException {
        StoreContents c = store.load();
        assertEquals(List.of(S.withTail(11)), c.streams(), "the record as of the last intact batch");
        assertEquals(List.of(new ProducerRecord(1, "p", 0, 2)), c.producers(), "producer state with its data");
        assertEquals("onetwothree", all(store));
    }

    @Test
    void aReopenedLogServesWhatWasCommitted() throws Exception {
        threeSynced();
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            assertThree(store);
            assertEquals(1, store.load().maxStreamId());
            List<StoredMessage> mid = store.read(1, 4, 11, 1);
            assertEquals(
                    List.of(3L), mid.stream().map(StoredMessage::position).toList(), "the row holding 4, and no more");
        }
    }

    @Test
    void aRecordThatAppendsMovedIsReplayedWholeAcrossSegmentsAndACheckpoint() throws Exception {
        // Each append's record differs from the one before only in its tail and last access (a
        // TailMoved in the log, LogFormat); the one before the last also sets a Stream-Seq (written
        // whole), so the last batch's TailMoved is replayed over a record from the log, not the checkpoint.
        StreamRecord r = S;
        try (LogStreamStore store = LogStreamStore.open(dir, 256, 512)) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(r))));
            for (int i = 0; i < 40; i++) {
                byte[] data = ("m" + i + ";").getBytes(StandardCharsets.UTF_8);
                StoredMessage m = new StoredMessage(r.tail(), data);
                r = r.withTail(r.tail() + data.length).withLastAccess(r.lastAccessMillis() + 1000 + i);
                if (i == 38) { // the last batches are always replayed, never in a checkpoint
                    r = r.withLastStreamSeq("seq-38");
                }
                store.commit(Commit.unconditional(
                        List.of(new Mutation.AppendMessages(1, List.of(m)), new Mutation.PutStream(r))));
            }
            store.sync();
            assertTrue(store.checkpoints() > 0, "the replay starts from a checkpoint");
        }
        try (LogStreamStore store = LogStreamStore.open(dir, 256, 512)) {
            assertEquals(List.of(r), store.load().streams(), "tail, last access and Stream-Seq as last committed");
            assertTrue(all(store).endsWith("m39;"));
        }
    }

    /**
     * A stream's index keeps only its newest chunk on the heap as it is written; a reopen rebuilds
     * it (from the index files before the checkpoint, by replay after it) with that chunk parked
     * in the chunk file too, until the stream's next write brings it back. A dropped stream gives
     * its slots back.
     */
    @Test
    void theIndexesKeepOnlyTheirNewestChunkOnTheHeap() throws Exception {
        int messages = 3 * StreamIndex.CHUNK + 5;
        StringBuilder expected = new StringBuilder();
        try (LogStreamStore store = LogStreamStore.open(dir, 64 << 10, 128 << 10)) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
            long at = 0;
            for (int i = 0; i < messages; i++) {
                String text = "m" + i + ";";
                store.commit(Commit.unconditional(List.of(
                        new Mutation.AppendMessages(
                                1, List.of(new StoredMessage(at, text.getBytes(StandardCharsets.UTF_8)))),
                        new Mutation.PutStream(S.withTail(at + text.length())))));
                at += text.length();
                expected.append(text);
            }
            store.sync();
            assertTrue(store.checkpoints() > 0, "the reopen rebuilds from index files and replays");
            assertEquals(1, store.indexChunksOnHeap());
            assertEquals(3, store.indexChunksInFile());
            assertEquals(expected.toString(), all(store));
        }
        try (LogStreamStore store = LogStreamStore.open(dir, 64 << 10, 128 << 10)) {
            assertEquals(0, store.indexChunksOnHeap(), "rebuilt at open, the filling chunk parked");
            assertEquals(4, store.indexChunksInFile());
            assertEquals(expected.toString(), all(store));
            long at = expected.length();
            store.commit(Commit.unconditional(List.of(
                    new Mutation.AppendMessages(
                            1, List.of(new StoredMessage(at, "last;".getBytes(StandardCharsets.UTF_8)))),
                    new Mutation.PutStream(S.withTail(at + 5)))));
            assertEquals(1, store.indexChunksOnHeap(), "the next write brings it back");
            assertEquals(3, store.indexChunksInFile());
            assertEquals(expected + "last;", all(store));
            store.commit(Commit.unconditional(List.of(new Mutation.DropStream(1))));
            assertEquals(0, store.indexChunksInFile(), "a dropped stream's slots are given back");
        }
    }

    /**
     * The store's housekeeping parks the filling index chunk of a stream not written for a whole
     * period (which streams it passes over is {@link QuietStreamsTest}'s), and the quiet stream's
     * next write brings its chunk back.
     */
    @Test
    void theHousekeepingParksTheIndexOfAStreamGoneQuiet() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            store.quietPeriod(TimeUnit.MILLISECONDS.toNanos(200));
            createAndWriteOne(store);
            StreamRecord busy = StreamStoreContract.stream(2, "busy");
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(busy))));
            long at = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (store.indexChunksInFile() == 0 && System.nanoTime() < deadline) {
                store.commit(Commit.unconditional(List.of(
                        new Mutation.AppendMessages(
                                2, List.of(new StoredMessage(at, "b".getBytes(StandardCharsets.UTF_8)))),
                        new Mutation.PutStream(busy.withTail(at + 1)))));
                at++;
                store.maintain();
                Thread.sleep(5);
            }
            // Once more: were the busy stream parked too (a stall of a whole period), this brings it back.
            store.commit(Commit.unconditional(List.of(
                    new Mutation.AppendMessages(
                            2, List.of(new StoredMessage(at, "b".getBytes(StandardCharsets.UTF_8)))),
                    new Mutation.PutStream(busy.withTail(at + 1)))));
            assertEquals(1, store.indexChunksInFile(), "stream 1, quiet since its first period, is parked");
            assertEquals(1, store.indexChunksOnHeap(), "the busy stream's");
            assertEquals("one", all(store));
            store.commit(append(3, "two", 1));
            assertEquals(0, store.indexChunksInFile(), "its next write brings it back");
            assertEquals("onetwo", all(store));
        }
    }

    /**
     * A fault reading a parked chunk back (here the unlinked chunk file cut to nothing under its
     * mapping, as a failed page-in would fault) fails the commit as one whose outcome is unknown,
     * a store failure the writer stops on, instead of an {@link InternalError} that would kill it.
     */
    @Test
    void aFaultReadingAParkedChunkBackFailsTheCommitAsOutcomeUnknown() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            createAndWriteOne(store);
        }
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            assertEquals(1, store.indexChunksInFile(), "parked at open");
            Path chunkFile = null;
            try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
                for (Path fd : fds.toList()) {
                    try {
                        if (Files.readSymbolicLink(fd).toString().matches(".*index-.*\\.chunks \\(deleted\\)")) {
                            chunkFile = fd;
                        }
                    } catch (IOException gone) {
                        // the listing's own descriptor, closed by now
                    }
                }
            }
            org.junit.jupiter.api.Assumptions.assumeTrue(chunkFile != null, "needs /proc/self/fd");
            try (FileChannel c = FileChannel.open(chunkFile, StandardOpenOption.WRITE)) {
                c.truncate(0);
            }
            StoreException e = assertThrows(StoreException.class, () -> store.commit(append(3, "two", 1)));
            assertTrue(e.outcomeUnknown(), e.getMessage());
        }
    }

    @Test
    void aTornBatchAtTheTailIsCutOffAndTheLogGoesOnFromThere() throws Exception {
        long synced = threeSynced();
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            store.commit(append(11, "four", 3));
        }
        long full = Files.size(onlySegment());
        try (FileChannel f = FileChannel.open(onlySegment(), StandardOpenOption.WRITE)) {
            f.truncate(synced + (full - synced) / 2); // the crash came halfway through writing "four"
        }
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            assertThree(store);
            assertEquals(0, nonZeroBytesFrom(synced), "the torn half was cleared");
            store.commit(append(11, "FOUR", 3));
            store.sync();
        }
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            assertEquals("onetwothreeFOUR", all(store), "what follows the cut is read back whole");
        }
    }

    @Test
    void aPowerLossDropsTheUnsyncedBatchesWholeAndNeverHalfApplied() throws Exception {
        long synced = threeSynced();
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            store.commit(append(11, "four", 3));
            store.commit(append(15, "five", 4)); // neither synced
        }
        // The page cache never reached the disk: the file ends where the last fdatasync left it,
        // with whatever the device holds after that (here: garbage of the length written).
        long full = Files.size(onlySegment());
        try (FileChannel f = FileChannel.open(onlySegment(), StandardOpenOption.WRITE)) {
            f.truncate(synced);
            byte[] junk = new byte[(int) (full - synced)];
            new java.util.Random(7).nextBytes(junk);
            f.write(ByteBuffer.wrap(junk), synced);
        }
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            assertThree(store);
        }
    }

    @Test
    void aSyncMakesEveryBatchBeforeItSurviveAPowerLossAndOnlyThose() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir, 256)) {
            long at = writeThirty(store);
            store.sync();
            store.commit(append(at, "lost", 30));
            store.dropUnsynced();
        }
        assertThirty("every synced batch survived");
    }

    @Test
    void whatAKilledProcessLeftUnflushedIsFlushedByTheNextStartBeforeItIsServed() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir, 256)) {
            writeThirty(store);
            // No sync: the process is killed here. Closing flushes nothing, as a kill would not.
        }
        try (LogStreamStore store = LogStreamStore.open(dir, 256)) {
            assertTrue(all(store).endsWith("x29;"), "the restart reads the last batches back from the page cache");
            store.dropUnsynced(); // the power goes out after the restart has served them
        }
        assertThirty("what the restart served survived");
    }

    @Test
    void aFirstStartMakesTheNamesOfTheDirectoriesItCreatesDurable() throws Exception {
        Path dataDir = dir.resolve("new").resolve("data"); // neither exists yet
        try (LogStreamStore store = LogStreamStore.open(dataDir)) {
            writeThree(store);
            store.sync();
            store.dropUnsynced(); // without the log directory's name synced, the whole log is gone
        }
        try (LogStreamStore store = LogStreamStore.open(dataDir)) {
            assertThree(store);
        }
    }

    @Test
    void aLogAnotherServerWroteWhileThisOneHadItReadOnlyIsNotCutWhenTheDiskBecomesWritable() throws Exception {
        // Into the active segment, past where this store saw its data end.
        anotherServerWritesWhileThisOneHasTheLogReadOnly("two");
    }

    @Test
    void aLogAnotherServerRolledWhileThisOneHadItReadOnlyIsNotWrittenOver() throws Exception {
        // Too large for what is left of the segment: the other server rolls to a new one first,
        // leaving nothing past the old segment's data.
        anotherServerWritesWhileThisOneHasTheLogReadOnly("x".repeat(300_000));
    }

    @Test
    void aBatchAnotherServerWroteOverTheTornTailThisOneSawIsNotTakenForIt() throws Exception {
        // The other server cuts the torn tail and writes a batch of exactly its length there.
        int batch = LogFormat.encode(append(3, "two", 1).apply(), id -> S.withTail(3), null)
                .bytes()
                .remaining();
        try (Tmpfs disk = Tmpfs.mount(dir.resolve("disk"), "size=16m")) {
            Path data = disk.path();
            writeOneThenATornTail(data, batch);
            disk.readOnly();
            try (LogStreamStore readOnly = LogStreamStore.open(data, 256 << 10)) {
                disk.writable();
                try (LogStreamStore other = LogStreamStore.open(data, 256 << 10)) {
                    other.commit(append(3, "two", 1));
                    other.sync();
                }
                StoreException refused =
                        assertThrows(StoreException.class, () -> readOnly.commit(append(3, "three", 1)));
                assertTrue(refused.needsRestart(), refused.getMessage());
            }
            try (LogStreamStore store = LogStreamStore.open(data, 256 << 10)) {
                assertEquals("onetwo", all(store), "the other server's batch is still there");
            }
        }
    }

    @Test
    void aTornTailAnotherServerOnlyCutIsNoChange() throws Exception {
        try (Tmpfs disk = Tmpfs.mount(dir.resolve("disk"), "size=16m")) {
            Path data = disk.path();
            writeOneThenATornTail(data, 40);
            disk.readOnly();
            try (LogStreamStore readOnly = LogStreamStore.open(data, 256 << 10)) {
                disk.writable();
                try (LogStreamStore other = LogStreamStore.open(data, 256 << 10)) {
                    assertEquals("one", all(other)); // its start cut the torn tail; it wrote nothing
                }
                readOnly.commit(append(3, "three", 1));
                readOnly.sync();
            }
            try (LogStreamStore store = LogStreamStore.open(data, 256 << 10)) {
                assertEquals("onethree", all(store));
            }
        }
    }

    @Test
    void anActiveSegmentCutShortWhileThisStoreHadItReadOnlyIsAChange() throws Exception {
        try (Tmpfs disk = Tmpfs.mount(dir.resolve("disk"), "size=16m")) {
            Path data = disk.path();
            try (LogStreamStore store = LogStreamStore.open(data, 256 << 10)) {
                createAndWriteOne(store);
            }
            disk.readOnly();
            try (LogStreamStore readOnly = LogStreamStore.open(data, 256 << 10)) {
                disk.writable();
                try (FileChannel c = FileChannel.open(readOnly.activeFile(), StandardOpenOption.WRITE)) {
                    c.truncate(10); // something outside Tether cut the file
                }
                StoreException refused =
                        assertThrows(StoreException.class, () -> readOnly.commit(append(3, "three", 1)));
                assertTrue(refused.needsRestart(), "not an append after a hole: " + refused.getMessage());
            }
        }
    }

    /** Writes "one" to a new log in {@code data}, then {@code bytes} of a torn batch after it (a crash mid-write). */
    private static void writeOneThenATornTail(Path data, int bytes) throws Exception {
        Path segment;
        try (LogStreamStore store = LogStreamStore.open(data, 256 << 10)) {
            createAndWriteOne(store);
            segment = store.activeFile();
        }
        byte[] torn = new byte[bytes];
        java.util.Arrays.fill(torn, (byte) 0x55);
        try (FileChannel c = FileChannel.open(segment, StandardOpenOption.WRITE)) {
            c.write(ByteBuffer.wrap(torn), c.size());
        }
    }

    private void anotherServerWritesWhileThisOneHasTheLogReadOnly(String written) throws Exception {
        try (Tmpfs disk = Tmpfs.mount(dir.resolve("disk"), "size=16m")) {
            Path data = disk.path();
            try (LogStreamStore store = LogStreamStore.open(data, 256 << 10)) {
                createAndWriteOne(store);
            }
            disk.readOnly();
            try (LogStreamStore readOnly = LogStreamStore.open(data, 256 << 10)) { // reads only, holds no lock
                assertEquals("one", all(readOnly));
                disk.writable();
                try (LogStreamStore other = LogStreamStore.open(data, 256 << 10)) { // another server
                    other.commit(append(3, written, 1));
                    other.sync();
                }
                // Taken for a torn tail, the other's batch would be cut, or written over.
                StoreException refused =
                        assertThrows(StoreException.class, () -> readOnly.commit(append(3, "three", 1)));
                assertTrue(refused.needsRestart(), refused.getMessage());
                assertTrue(
                        assertThrows(StoreException.class, () -> readOnly.commit(append(3, "three", 1)))
                                .needsRestart(),
                        "and it stays refused");
            }
            try (LogStreamStore store = LogStreamStore.open(data, 256 << 10)) {
                assertEquals("one" + written, all(store), "the other server's batch is still there");
            }
        }
    }

    @Test
    void theNameOfASegmentThatAKilledRollLeftUnsyncedIsSyncedByTheNextStart() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir, 400, Long.MAX_VALUE, false)) {
            createAndWriteOne(store);
        }
        // A roll killed after it sealed that segment and created the next one, before it synced
        // the directory: the new, empty segment's name is not durable.
        Files.createFile(nextSegment());
        try (LogStreamStore store = LogStreamStore.open(dir, 400, Long.MAX_VALUE, false)) {
            store.commit(append(3, "two", 1));
            store.sync();
            store.dropUnsynced(); // acknowledged, in a segment whose name only the start synced
        }
        try (LogStreamStore store = LogStreamStore.open(dir, 400, Long.MAX_VALUE, false)) {
            assertEquals("onetwo", all(store));
        }
    }

    @Test
    void aRollThatFailedAfterItsFlushIsTriedAgainByTheNextCommitOverWhatItLeft() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir, 400, Long.MAX_VALUE, false)) {
            createAndWriteOne(store);
            // The next segment's file name is taken (by a directory): starting that segment fails.
            Path next = nextSegment();
            Files.createDirectory(next);
            String big = "x".repeat(300); // does not fit in the segment: rolls
            StoreException failed = assertThrows(StoreException.class, () -> store.commit(append(3, big, 1)));
            assertTrue(failed.unavailable() && !failed.needsRestart(), failed.getMessage());
            store.sync(); // what came before the failed roll is durable (its segment was sealed): a sync says so
            // What a roll that failed between renaming a spare into place and opening it leaves:
            // a file of zeros under the next segment's name. The retry must not take them for data.
            Files.delete(next);
            Files.write(next, new byte[4096]);
            // This batch (99 bytes) would fit in the sealed segment (190 of 400); it must go after the
            // roll all the same, or that leftover file would lie inside the sealed segment's range.
            store.commit(append(3, "two", 1));
            store.sync();
            assertEquals("onetwo", all(store));
            store.dropUnsynced(); // and a power loss now keeps what the retry acknowledged
        }
        try (LogStreamStore store = LogStreamStore.open(dir, 400, Long.MAX_VALUE, false)) {
            assertEquals("onetwo", all(store), "the retried roll's batch survived the reopen");
            assertEquals(2, segmentFiles().size(), "\"two\" went into a segment of its own: " + segmentFiles());
        }
    }

    @Test
    void aSecondWriterOnTheSameLogIsRefusedWhileTheFirstHasIt() throws Exception {
        try (LogStreamStore first = LogStreamStore.open(dir)) {
            writeThree(first);
            first.sync();
            StoreException refused = assertThrows(StoreException.class, () -> LogStreamStore.open(dir));
            assertTrue(refused.getMessage().contains("is in use"), refused.getMessage());
            first.commit(append(11, "four", 3)); // the first store goes on
            first.sync();
        }
        try (LogStreamStore again = LogStreamStore.open(dir)) { // closed: free again
            assertEquals("onetwothreefour", all(again));
        }
    }

    @Test
    void aFlippedBitInTheLastBatchFailsItsCrc() throws Exception {
        long synced = threeSynced();
        try (FileChannel f = FileChannel.open(onlySegment(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            f.read(b, synced - 3);
            b.put(0, (byte) (b.get(0) ^ 0x10));
            f.write(b.flip(), synced - 3);
        }
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            assertEquals("onetwo", all(store), "the damaged last batch is dropped, the ones before it kept");
            assertEquals(List.of(new ProducerRecord(1, "p", 0, 1)), store.load().producers());
        }
    }

    /** The stream's record, "one" and "two", each batch in a segment of its own (64-byte segments). */
    private void threeBatchesInSegmentsOfTheirOwn() throws StoreException {
        try (LogStreamStore store = LogStreamStore.open(dir, 64)) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
            store.commit(append(0, "one", 0));
            store.commit(append(3, "two", 1));
            store.sync();
        }
    }

    @Test
    void damageInALastSegmentThatARollSealedIsRefusedRatherThanCutOff() throws Exception {
        threeBatchesInSegmentsOfTheirOwn();
        // As if the roll that sealed the segment holding "one" had failed to make the next one.
        List<Path> files = segmentFiles();
        Files.delete(files.get(files.size() - 1));
        Path sealed = files.get(files.size() - 2);
        try (FileChannel f = FileChannel.open(sealed, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            long at = f.size() - 3; // inside its last batch
            f.read(b, at);
            b.put(0, (byte) (b.get(0) ^ 0x10));
            f.write(b.flip(), at);
        }
        StoreException refused = assertThrows(StoreException.class, () -> LogStreamStore.open(dir, 64));
        assertTrue(refused.getMessage().contains("not a torn write"), refused.getMessage());
    }

    @Test
    void damageBeforeTheLastSegmentIsRefusedRatherThanCutOff() throws Exception {
        threeBatchesInSegmentsOfTheirOwn();
        Path first = segmentFiles().get(0);
        try (FileChannel f = FileChannel.open(first, StandardOpenOption.WRITE)) {
            f.write(ByteBuffer.wrap(new byte[] {0, 0, 0, 0}), 0);
        }
        StoreException refused = assertThrows(StoreException.class, () -> LogStreamStore.open(dir, 64));
        assertTrue(refused.getMessage().contains("not a torn write"), refused.getMessage());
    }

    @Test
    void aSyncCoversTheSegmentsRolledAwayFromAndAPowerLossKeepsThemWhole() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir, 64)) { // a segment per batch
            writeThree(store);
            store.sync(); // forces the active segment only: the others were flushed as they were rolled
            store.dropUnsynced();
        }
        assertTrue(segmentFiles().size() >= 4, "rolled: " + segmentFiles());
        try (LogStreamStore store = LogStreamStore.open(dir, 64)) {
            assertThree(store);
        }
    }

    @Test
    void aMissingSegmentIsRefusedRatherThanReplayedAcross() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir, 64)) { // a segment per batch
            writeThree(store);
            store.sync();
        }
        List<Path> segments = segmentFiles();
        Files.delete(segments.get(1)); // "one": replaying on would give the stream a hole
        StoreException refused = assertThrows(StoreException.class, () -> LogStreamStore.open(dir, 64));
        assertTrue(refused.getMessage().contains("missing log data"), refused.getMessage());
        Files.delete(segments.get(0)); // no checkpoint: the log must start at offset 0
        refused = assertThrows(StoreException.class, () -> LogStreamStore.open(dir, 64));
        assertTrue(refused.getMessage().contains("missing log data"), refused.getMessage());
    }

    @Test
    void aLogThatEndsBeforeItsCheckpointIsRefused() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir, 64, 64)) { // a segment per batch, a checkpoint each roll
            writeThree(store);
            store.sync();
        }
        List<Path> segments = segmentFiles();
        Files.delete(segments.getLast()); // the segment the checkpoint points at: a copy that stopped short
        StoreException refused = assertThrows(StoreException.class, () -> LogStreamStore.open(dir, 64, 64));
        assertTrue(refused.getMessage().contains("missing log data"), refused.getMessage());
    }

    private List<Path> segmentFiles() throws IOException {
        try (Stream<Path> files = Files.list(dir.resolve("log"))) {
            return files.filter(p -> p.toString().endsWith(".seg")).sorted().toList();
        }
    }

    /** Stream 1 written as 40 parts, the first 21 trimmed midway; stream 2 created and dropped early on. */
    private String checkpointedLog() throws Exception {
        StringBuilder kept = new StringBuilder();
        StreamRecord other = StreamStoreContract.stream(2, "other");
        try (LogStreamStore store = LogStreamStore.open(dir, 256, 512)) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S), new Mutation.PutStream(other))));
            store.commit(Commit.unconditional(List.of(
                    new Mutation.AppendMessages(2, List.of(new StoredMessage(0, "gone".getBytes()))),
                    new Mutation.PutStream(other.withTail(4)))));
            store.commit(Commit.unconditional(List.of(new Mutation.DropStream(2))));
            long at = 0;
            for (int i = 0; i < 40; i++) {
                String part = "part-" + i + ";";
                store.commit(append(at, part, i));
                at += part.length();
                if (i == 20) {
                    store.commit(Commit.unconditional(List.of(new Mutation.TrimMessages(1, at)))); // parts 0..20
                } else if (i > 20) {
                    kept.append(part);
                }
            }
            store.sync();
            store.dropUnsynced(); // and the power goes out: the checkpoint and the segments keep their names
        }
        return kept.toString();
    }

    @Test
    void aCheckpointLetsTheSegmentsNothingReferencesBeDeletedAndTheStateSurvivesThem() throws Exception {
        String kept = checkpointedLog();
        assertTrue(Files.exists(dir.resolve("log").resolve(Checkpoint.FILE)), "a checkpoint was written");
        assertTrue(
                Files.notExists(dir.resolve("log").resolve(Segment.name(0))),
                "the first segment (stream 2's data, stream 1's trimmed start) was deleted: " + segmentFiles());
        assertTrue(
                Files.notExists(SegmentIndex.file(dir.resolve("log"), 0)),
                "and its index file with it, not at the next open");
        try (LogStreamStore store = LogStreamStore.open(dir, 256, 512)) {
            assertEquals(
                    kept, all(store), "exactly what retention kept, from the checkpoint's index and the log after it");
            assertEquals(
                    List.of(new ProducerRecord(1, "p", 0, 39)), store.load().producers());
            assertEquals(2, store.load().maxStreamId(), "the id high-water mark outlives the dropped stream");
            assertEquals(
                    List.of(1L),
                    store.load().streams().stream().map(StreamRecord::id).toList());
        }
    }

    @Test
    void aDamagedCheckpointIsRefusedOnceTheLogBeforeItIsGone() throws Exception {
        checkpointedLog();
        Path checkpoint = dir.resolve("log").resolve(Checkpoint.FILE);
        byte[] bytes = Files.readAllBytes(checkpoint);
        bytes[bytes.length / 2] ^= 0x40;
        Files.write(checkpoint, bytes);
        StoreException refused = assertThrows(StoreException.class, () -> LogStreamStore.open(dir, 256, 512));
        assertTrue(refused.getMessage().contains("fails its CRC"), refused.getMessage());
    }

    @Test
    void aDamagedCheckpointIsIgnoredWhileTheWholeLogCanBeReplayed() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
            store.commit(append(0, "one", 0));
            store.sync();
        }
        Files.write(dir.resolve("log").resolve(Checkpoint.FILE), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        try (LogStreamStore store = LogStreamStore.open(dir)) {
            assertEquals("one", all(store));
        }
    }

    @Test
    void segmentsRollAndReadsSpanThem() throws Exception {
        List<String> parts = new ArrayList<>();
        try (LogStreamStore store = LogStreamStore.open(dir, 256)) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
            long at = 0;
            for (int i = 0; i < 40; i++) {
                String part = "part-" + i + ";";
                parts.add(part);
                store.commit(append(at, part, i));
                at += part.length();
            }
            store.sync();
        }
        try (Stream<Path> files = Files.list(dir.resolve("log"))) {
            assertTrue(files.count() > 5, "the log rolled into several segments");
        }
        try (LogStreamStore store = LogStreamStore.open(dir, 256)) {
            assertEquals(String.join("", parts), all(store));
            store.commit(Commit.unconditional(List.of(new Mutation.TrimMessages(1, 100))));
            assertTrue(
                    store.read(1, 0, Long.MAX_VALUE, Integer.MAX_VALUE).get(0).position() > 0, "trimmed");
            store.commit(Commit.unconditional(List.of(new Mutation.DropStream(1))));
            store.sync();
        }
        try (LogStreamStore store = LogStreamStore.open(dir, 256)) {
            assertEquals(List.of(), store.load().streams(), "the drop was replayed");
            assertEquals(List.of(), store.read(1, 0, Long.MAX_VALUE, Integer.MAX_VALUE));
        }
    }

    @Test
    void interleavedStreamsReadBackMessageForMessageWhateverLiesBetweenThem() throws Exception {
        StreamRecord t = StreamStoreContract.stream(2, "t");
        List<String> expected = new ArrayList<>();
        try (LogStreamStore store = LogStreamStore.open(dir, 4096)) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S), new Mutation.PutStream(t))));
            long at = 0;
            for (int batch = 0; batch < 30; batch++) {
                List<Mutation> mutations = new ArrayList<>();
                List<StoredMessage> mine = new ArrayList<>();
                for (int k = 0; k < 3; k++) {
                    String part = "m" + batch + "." + k + ";";
                    mine.add(new StoredMessage(at, part.getBytes(StandardCharsets.UTF_8)));
                    expected.add(part);
                    at += part.length();
                }
                mutations.add(new Mutation.AppendMessages(1, mine));
                // another stream's data between this stream's runs: small, or larger than a run may skip
                int other = batch % 5 == 0 ? LogReader.RUN_GAP + 1 : 17;
                mutations.add(
                        new Mutation.AppendMessages(2, List.of(new StoredMessage(batch * 10_000L, new byte[other]))));
                store.commit(Commit.unconditional(mutations));
            }
            for (int max : new int[] {1, 7, 100, Integer.MAX_VALUE}) {
                List<String> got = new ArrayList<>();
                long from = 0;
                while (got.size() < expected.size()) {
                    List<StoredMessage> chunk = store.read(1, from, Long.MAX_VALUE, max);
                    for (StoredMessage m : chunk) {
                        assertEquals(from, m.position(), "contiguous positions");
                        got.add(new String(m.data(), StandardCharsets.UTF_8));
                        from = m.end();
                    }
                }
                assertEquals(expected, got, "maxBytes " + max);
            }
        }
    }

    /** Appends 300 bytes at a time to stream 1 until the log refuses one as full; returns its tail. */
    private static long fillUntilFull(LogStreamStore store) throws StoreException {
        long at = 0;
        StoreException full = null;
        for (int i = 0; i < 1000 && full == null; i++) {
            String part = "x".repeat(300);
            try {
                store.commit(append(at, part, i));
                at += part.length();
            } catch (StoreException e) {
                full = e;
            }
        }
        assertTrue(
                full != null && full.unavailable() && full.getMessage().contains("--max-store-size"),
                String.valueOf(full));
        return at;
    }

    @Test
    void aFullLogRefusesEveryWriteLargeOrSmallUntilRoomIsFreed() throws Exception {
        try (LogStreamStore store = LogStreamStore.open(dir, Long.valueOf(64 * 1024))) { // the cap, not a segment size
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
            long tail = fillUntilFull(store);
            StoreException small = assertThrows(
                    StoreException.class,
                    () -> store.commit(append(tail, "y", 1000)),
                    "a write that would still fit is refused too: the log is full for everyone");
            assertTrue(small.getMessage().contains("full"), small.getMessage());
            store.sync();
        }
    }

    @Test
    void aFullLogTakesADeleteAndGivesTheStreamsRoomBack() throws Exception {
        long cap = 64 * 1024;
        // Small segments, and no checkpoint by the usual cadence: only the full log's own.
        try (LogStreamStore store = LogStreamStore.open(dir, 4096, Long.MAX_VALUE, cap, false)) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
            fillUntilFull(store);
            int segments = store.segmentCount();
            StreamRecord t = StreamStoreContract.stream(2, "t");
            assertThrows(
                    StoreException.class,
                    () -> store.commit(Commit.unconditional(List.of(new Mutation.PutStream(t)))),
                    "a new stream is data a full log refuses");
            store.commit(Commit.unconditional(List.of(new Mutation.DropStream(1)))); // taken while full
            byte[] data = "y".repeat(300).getBytes(StandardCharsets.UTF_8);
            store.commit(Commit.unconditional(List.of(
                    new Mutation.PutStream(t.withTail(data.length)),
                    new Mutation.AppendMessages(2, List.of(new StoredMessage(0, data))))));
            assertTrue(
                    store.segmentCount() < segments,
                    "the dropped stream's segments are deleted: " + store.segmentCount() + " of " + segments);
            assertTrue(store.diskBytes() < cap / 2, "counted again: " + store.diskBytes());
        }
        try (LogStreamStore store = LogStreamStore.open(dir, 4096, Long.MAX_VALUE, cap, false)) {
            StoreContents contents = store.load();
            assertEquals(1, contents.streams().size(), "after a restart, only the new stream");
            assertEquals("t", contents.streams().getFirst().path());
        }
    }

    @Test
    void theCapCountsTheIndexFilesToo() throws Exception {
        long cap = 64 * 1024;
        // Small segments, so sealed ones have finished index files; one-byte messages, so the
        // index files (28 bytes a message) are a large part of what the log takes.
        try (LogStreamStore store = LogStreamStore.open(dir, 4096, Long.MAX_VALUE, cap, false)) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(S))));
            long at = 0;
            StoreException full = null;
            for (int i = 0; i < 1000 && full == null; i++) {
                List<StoredMessage> messages = new ArrayList<>();
                for (int k = 0; k < 50; k++) {
                    messages.add(new StoredMessage(at + k, new byte[] {'x'}));
                }
                try {
                    store.commit(Commit.unconditional(List.of(
                            new Mutation.AppendMessages(1, messages), new Mutation.PutStream(S.withTail(at + 50)))));
                    at += 50;
                } catch (StoreException e) {
                    full = e;
                }
            }
            assertTrue(full != null && full.getMessage().contains("--max-store-size"), String.valueOf(full));
            long segmentBytes = 0;
            long indexBytes = 0;
            try (Stream<Path> files = Files.list(dir.resolve("log"))) {
                for (Path f : files.toList()) {
                    String name = f.getFileName().toString();
                    if (name.endsWith(".seg")) {
                        segmentBytes += Files.size(f);
                    } else if (name.endsWith(".idx")) {
                        indexBytes += Files.size(f);
                    }
                }
            }
            assertTrue(indexBytes > cap / 4, "the index files matter here: " + indexBytes);
            assertTrue(
                    segmentBytes + indexBytes <= cap,
                    "segments " + segmentBytes + " + index files " + indexBytes + " fit under the cap " + cap);
            assertEquals(at, store.read(1, 0, Long.MAX_VALUE, Integer.MAX_VALUE).size(), "every accepted message kept");
        }
        try (LogStreamStore store = LogStreamStore.open(dir, 4096, Long.MAX_VALUE, cap, false)) {
            long tail = store.load().streams().getFirst().tail();
            List<StoredMessage> messages = new ArrayList<>();
            for (int k = 0; k < 50; k++) {
                messages.add(new StoredMessage(tail + k, new byte[] {'x'}));
            }
            StoreException full = assertThrows(
                    StoreException.class,
                    () -> store.commit(Commit.unconditional(List.of(
                            new Mutation.AppendMessages(1, messages), new Mutation.PutStream(S.withTail(tail + 50))))),
                    "still full after a restart: the sealed segments' index files are counted again");
            assertTrue(full.getMessage().contains("--max-store-size"), full.getMessage());
        }
    }
}
