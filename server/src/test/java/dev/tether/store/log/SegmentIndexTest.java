package dev.tether.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.Commit;
import dev.tether.store.Mutation;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamStoreContract;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The index files of sealed segments: the checkpoint no longer carries every message's place, so
 * its size does not grow with the data kept, and recovery rebuilds the indexes of the segments
 * before it from their index files, or from the segments themselves when a file is missing,
 * damaged or disagrees with the checkpoint.
 */
class SegmentIndexTest {
    @TempDir
    Path dir;

    private static final StreamRecord ONE = StreamStoreContract.stream(1, "one");
    private static final StreamRecord TWO = StreamStoreContract.stream(2, "two");
    private static final StreamRecord THREE = StreamStoreContract.stream(3, "three");

    /** What one filled log keeps: stream 1 from its 21st part on, stream 3 whole (stream 2 dropped). */
    private record Kept(String one, String three) {}

    /**
     * In {@code data}: 256-byte segments, a checkpoint every 512 bytes. Stream 3 gets a part
     * first and then one after each of stream 1's, so the first segment stays (it holds stream 3's
     * start) and every segment before the checkpoint has messages to index.
     */
    private static Kept fill(Path data, int parts) throws StoreException {
        StringBuilder one = new StringBuilder();
        StringBuilder three = new StringBuilder();
        try (LogStreamStore store = LogStreamStore.open(data, 256, 512)) {
            store.commit(Commit.unconditional(
                    List.of(new Mutation.PutStream(ONE), new Mutation.PutStream(TWO), new Mutation.PutStream(THREE))));
            store.commit(append(2, 0, "gone"));
            store.commit(Commit.unconditional(List.of(new Mutation.DropStream(2))));
            long atOne = 0;
            long atThree = 0;
            for (int i = 0; i < parts; i++) {
                String part = "p" + i + ";";
                store.commit(append(3, atThree, part));
                atThree += part.length();
                three.append(part);
                store.commit(append(1, atOne, part));
                atOne += part.length();
                if (i == 20) {
                    store.commit(Commit.unconditional(List.of(new Mutation.TrimMessages(1, atOne))));
                } else if (i > 20) {
                    one.append(part);
                }
            }
            store.sync();
        }
        return new Kept(one.toString(), three.toString());
    }

    private static Commit append(long stream, long at, String text) {
        return Commit.unconditional(List.of(new Mutation.AppendMessages(
                stream, List.of(new StoredMessage(at, text.getBytes(StandardCharsets.UTF_8))))));
    }

    private static String all(LogStreamStore store, long stream) throws StoreException {
        StringBuilder out = new StringBuilder();
        for (StoredMessage m : store.read(stream, 0, Long.MAX_VALUE, Integer.MAX_VALUE)) {
            out.append(new String(m.data(), StandardCharsets.UTF_8));
        }
        return out.toString();
    }

    private void assertKept(Kept kept) throws StoreException {
        try (LogStreamStore store = LogStreamStore.open(dir, 256, 512)) {
            assertEquals(kept.one(), all(store, 1), "stream 1, trimmed");
            assertEquals(kept.three(), all(store, 3), "stream 3, whole");
            assertEquals(List.of(), store.read(2, 0, Long.MAX_VALUE, Integer.MAX_VALUE), "stream 2, dropped");
        }
    }

    private static Path log(Path data) {
        return data.resolve("log");
    }

    /** The segments wholly before the checkpoint, oldest first. */
    private List<Long> checkpointedBases() throws IOException {
        long checkpointed = Checkpoint.read(log(dir)).offset();
        try (Stream<Path> files = Files.list(log(dir))) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".seg"))
                    .map(n -> Long.parseLong(n.substring(0, 20)))
                    .filter(base -> base < checkpointed)
                    .sorted()
                    .toList();
        }
    }

    private int entries(long base) throws IOException {
        int[] n = {0};
        assertNull(SegmentIndex.read(log(dir), base, (s, p, l, len) -> n[0]++), "the index file of " + base);
        return n[0];
    }

    @Test
    void theCheckpointsSizeDoesNotGrowWithTheMessagesKept() throws Exception {
        fill(dir.resolve("small"), 40);
        fill(dir.resolve("large"), 400);
        long small = Files.size(log(dir.resolve("small")).resolve(Checkpoint.FILE));
        long large = Files.size(log(dir.resolve("large")).resolve(Checkpoint.FILE));
        // Every message's place would be 20 bytes each: 360 more messages of stream 3 alone.
        assertTrue(large < small + 100, "ten times the messages kept: " + small + " bytes, then " + large);
    }

    @Test
    void reopeningTakesEachSegmentsIndexFromItsFileNotFromTheSegment() throws Exception {
        Kept kept = fill(dir, 60);
        List<Long> bases = checkpointedBases();
        assertTrue(bases.size() >= 3, "segments before the checkpoint: " + bases);
        for (long base : bases) {
            assertTrue(entries(base) > 0, "the segment at " + base + " has its messages in its index file");
        }
        // Damage a batch header of the first segment (its first batch creates the streams: no
        // message bytes in it): a scan would refuse the log; the index file does not need it.
        try (FileChannel f = FileChannel.open(log(dir).resolve(Segment.name(bases.get(0))), StandardOpenOption.WRITE)) {
            f.write(ByteBuffer.wrap(new byte[] {0, 0, 0, 0}), 0);
        }
        assertKept(kept);
    }

    @Test
    void aMissingOrDamagedIndexFileIsRebuiltFromItsSegment() throws Exception {
        Kept kept = fill(dir, 60);
        List<Long> bases = checkpointedBases();
        long missing = bases.get(0);
        long damaged = bases.get(1);
        int before = entries(damaged);
        Files.delete(SegmentIndex.file(log(dir), missing));
        byte[] bytes = Files.readAllBytes(SegmentIndex.file(log(dir), damaged));
        bytes[3] ^= 0x10; // a stream id: the CRC no longer matches
        Files.write(SegmentIndex.file(log(dir), damaged), bytes);
        Path unfinished = log(dir).resolve(String.format("%020d.idx.tmp", damaged));
        Path orphan = SegmentIndex.file(log(dir), 1L << 40);
        Files.write(unfinished, new byte[] {1, 2, 3});
        Files.write(orphan, new byte[] {1, 2, 3});
        assertKept(kept);
        assertTrue(entries(missing) > 0, "the missing index file was written again from the segment");
        assertEquals(before, entries(damaged), "the damaged one too");
        assertTrue(Files.notExists(unfinished), "an unfinished index file is deleted at open");
        assertTrue(Files.notExists(orphan), "so is one whose segment is gone");
    }

    @Test
    void indexFilesThatDisagreeWithTheCheckpointAreOverruledByTheSegments() throws Exception {
        Kept kept = fill(dir, 60);
        long base = checkpointedBases().get(0);
        List<long[]> entries = new ArrayList<>();
        SegmentIndex.read(log(dir), base, (s, p, l, len) -> entries.add(new long[] {s, p, l, len}));
        Files.delete(SegmentIndex.file(log(dir), base));
        SegmentIndex.Writer shorter = SegmentIndex.Writer.open(log(dir), base);
        boolean dropped = false;
        for (long[] e : entries) { // intact, but without stream 3's first message (which is kept)
            if (e[0] == 3 && !dropped) {
                dropped = true;
            } else {
                shorter.add(e[0], e[1], e[2], (int) e[3]);
            }
        }
        shorter.finish();
        assertTrue(dropped, "the first segment holds stream 3's start");
        assertEquals(entries.size() - 1, entries(base));
        assertKept(kept);
    }

    @Test
    void theSegmentBeingFilledAtARestartGetsAllItsMessagesInItsIndexFile() throws Exception {
        long at = 0;
        for (int session = 0; session < 2; session++) { // the second replays the first's last segment
            try (LogStreamStore store = LogStreamStore.open(dir, 256)) {
                if (session == 0) {
                    store.commit(Commit.unconditional(List.of(new Mutation.PutStream(THREE))));
                }
                for (int i = 0; i < 25; i++) {
                    String part = "s" + session + "p" + i + ";";
                    store.commit(append(3, at, part));
                    at += part.length();
                }
                store.sync();
            }
        }
        List<Long> sealed;
        try (Stream<Path> files = Files.list(log(dir))) {
            List<Long> bases = files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".seg"))
                    .map(n -> Long.parseLong(n.substring(0, 20)))
                    .sorted()
                    .toList();
            sealed = bases.subList(0, bases.size() - 1);
        }
        assertTrue(sealed.size() >= 4, "segments sealed: " + sealed);
        for (long base : sealed) {
            assertEquals(appendsIn(base), entries(base), "the index file of the segment at " + base);
        }
    }

    /** The messages a segment holds, counted from its batches. */
    private int appendsIn(long base) throws IOException {
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(log(dir).resolve(Segment.name(base))));
        int n = 0;
        while (all.remaining() >= LogFormat.HEADER) {
            ByteBuffer header = all.slice(all.position(), LogFormat.HEADER);
            int length = LogFormat.payloadLength(header, all.remaining());
            ByteBuffer payload = all.slice(all.position() + LogFormat.HEADER, length);
            assertTrue(LogFormat.intact(header, payload), "a sealed segment checks out");
            for (LogFormat.Decoded d : LogFormat.decode(payload)) {
                n += d instanceof LogFormat.Decoded.Append ? 1 : 0;
            }
            all.position(all.position() + LogFormat.HEADER + length);
        }
        return n;
    }

    /**
     * When the index files disagree with the checkpoint, recovery indexes the segments again: the
     * first pass's index chunks in the chunk file are given back, not left taking slots.
     */
    @Test
    void aSecondPassOverTheSegmentsGivesTheFirstPassesIndexChunksBack() throws Exception {
        int parts = 5_000; // over a chunk (4,096) before the checkpoint at 128 KiB
        StringBuilder three = new StringBuilder();
        try (LogStreamStore store = LogStreamStore.open(dir, 64 << 10, 128 << 10)) {
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(THREE))));
            long at = 0;
            for (int i = 0; i < parts; i++) {
                String part = "p" + i + ";";
                store.commit(append(3, at, part));
                at += part.length();
                three.append(part);
            }
            store.sync();
            assertEquals(1, store.indexChunksInFile());
        }
        long base = checkpointedBases().get(0);
        List<long[]> entries = new ArrayList<>();
        SegmentIndex.read(log(dir), base, (s, p, l, len) -> entries.add(new long[] {s, p, l, len}));
        Files.delete(SegmentIndex.file(log(dir), base));
        SegmentIndex.Writer shorter = SegmentIndex.Writer.open(log(dir), base);
        for (long[] e : entries.subList(1, entries.size())) { // intact, but without stream 3's first message
            shorter.add(e[0], e[1], e[2], (int) e[3]);
        }
        shorter.finish();
        try (LogStreamStore store = LogStreamStore.open(dir, 64 << 10, 128 << 10)) {
            assertEquals(three.toString(), all(store, 3), "the segments overrule the index file");
            assertEquals(
                    2,
                    store.indexChunksInFile(),
                    "its full chunk and the parked filling one; the first pass's not left");
            assertEquals(0, store.indexChunksOnHeap());
        }
    }

    @Test
    void aCheckpointOfTheFirstFormatWithEveryIndexWholeIsStillRead() throws Exception {
        StringBuilder three = new StringBuilder();
        try (LogStreamStore store = LogStreamStore.open(dir, 256)) { // no checkpoint of its own
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(THREE))));
            long at = 0;
            for (int i = 0; i < 30; i++) {
                String part = "p" + i + ";";
                store.commit(append(3, at, part));
                at += part.length();
                three.append(part);
            }
            store.sync();
        }
        List<Long> bases;
        try (Stream<Path> files = Files.list(log(dir))) {
            bases = files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".seg"))
                    .map(n -> Long.parseLong(n.substring(0, 20)))
                    .sorted()
                    .toList();
        }
        long offset = bases.get(bases.size() - 1); // the first format, as of the last segment's start
        List<long[]> entries = new ArrayList<>();
        for (long base : bases.subList(0, bases.size() - 1)) {
            SegmentIndex.read(log(dir), base, (s, p, l, len) -> entries.add(new long[] {p, l, len}));
            Files.delete(SegmentIndex.file(log(dir), base));
        }
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        java.io.DataOutputStream out = new java.io.DataOutputStream(bytes);
        out.writeInt(0x544c4331); // "TLC1"
        out.writeLong(offset);
        out.writeLong(3);
        byte[] record = LogFormat.record(THREE);
        out.writeInt(1);
        out.writeInt(record.length);
        out.write(record);
        out.writeInt(0); // no producers
        out.writeInt(1);
        out.writeLong(3);
        out.writeInt(entries.size());
        for (long[] e : entries) {
            out.writeLong(e[0]);
            out.writeLong(e[1]);
            out.writeInt((int) e[2]);
        }
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(bytes.toByteArray());
        out.writeInt((int) crc.getValue());
        Files.write(log(dir).resolve(Checkpoint.FILE), bytes.toByteArray());
        // Damage the first segment's first batch (the stream's creation): only a scan would see it.
        try (FileChannel f = FileChannel.open(log(dir).resolve(Segment.name(0)), StandardOpenOption.WRITE)) {
            f.write(ByteBuffer.wrap(new byte[] {0, 0, 0, 0}), 0);
        }
        try (LogStreamStore store = LogStreamStore.open(dir, 256)) {
            assertEquals(three.toString(), all(store, 3), "the indexes from the checkpoint, the log after it");
        }
    }

    @Test
    void aPowerLossRightAfterACheckpointLeavesAnEmptyLastSegmentThatTakesWrites() throws Exception {
        StringBuilder three = new StringBuilder();
        long at = 0;
        try (LogStreamStore store = LogStreamStore.open(dir, 256, 512, false)) { // plain segments
            store.commit(Commit.unconditional(List.of(new Mutation.PutStream(THREE))));
            for (int i = 0; ; i++) {
                String part = "p" + i + ";";
                store.commit(append(3, at, part)); // the one that rolls writes a checkpoint first
                if (Files.exists(log(dir).resolve(Checkpoint.FILE))) {
                    store.dropUnsynced(); // its own append was not synced: gone, the new segment empty
                    break;
                }
                store.sync();
                at += part.length();
                three.append(part);
            }
        }
        try (LogStreamStore store = LogStreamStore.open(dir, 256, 512, false)) {
            store.commit(append(3, at, "after;"));
            store.sync();
            assertEquals(three + "after;", all(store, 3));
        }
    }

    @Test
    void aSealedSegmentAfterTheCheckpointGetsItsIndexFileBackOnlyIfItWasLost() throws Exception {
        fill(dir, 60);
        long checkpointed = Checkpoint.read(log(dir)).offset();
        List<Long> after;
        try (Stream<Path> files = Files.list(log(dir))) {
            List<Long> bases = files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".seg"))
                    .map(n -> Long.parseLong(n.substring(0, 20)))
                    .filter(base -> base >= checkpointed)
                    .sorted()
                    .toList();
            after = bases.subList(0, bases.size() - 1); // sealed, replayed at open
        }
        assertTrue(!after.isEmpty(), "sealed segments after the checkpoint: " + after);
        Path file = SegmentIndex.file(log(dir), after.get(0));
        int entries = entries(after.get(0));
        java.nio.file.attribute.FileTime old = java.nio.file.attribute.FileTime.fromMillis(0);
        Files.setLastModifiedTime(file, old);
        LogStreamStore.open(dir, 256, 512).close();
        assertEquals(old, Files.getLastModifiedTime(file), "an index file still there is not written again");
        Files.delete(file);
        LogStreamStore.open(dir, 256, 512).close();
        assertEquals(entries, entries(after.get(0)), "a lost one is written again from the replay");
    }
}
