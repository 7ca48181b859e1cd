package dev.tether.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.tether.store.ReadExtent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link StreamIndex#extent} answers what {@link StreamIndex#range} would cover without listing it:
 * a reader plans a catch-up from it and then reads the range in pieces, so the two must agree.
 */
class StreamIndexTest {
    /** One message of a model list: its position, the log offset of its bytes, their length. */
    private record Entry(long position, long location, int length) {}

    private static List<Entry> entries(StreamIndex.Range range) {
        List<Entry> out = new java.util.ArrayList<>();
        for (int i = 0; i < range.size(); i++) {
            out.add(new Entry(range.position(i), range.location(i), range.length(i)));
        }
        return out;
    }

    /** Ten messages of 10, 20, ... 100 bytes at positions 0, 10, 30, 60, ... 450; the tail is 550. */
    private static StreamIndex tenMessages() {
        StreamIndex index = new StreamIndex();
        long position = 0;
        for (int i = 1; i <= 10; i++) {
            index.add(position, 1000 + position, 10 * i);
            position += 10 * i;
        }
        return index;
    }

    @Test
    void extentAgreesWithRange() {
        StreamIndex index = tenMessages();
        long[] froms = {0, 5, 10, 29, 30, 31, 400, 449, 450, 550};
        long[] tos = {1, 10, 31, 300, 549, 550, Long.MAX_VALUE};
        int[] budgets = {0, 1, 10, 25, 60, 1000};
        for (long from : froms) {
            for (long to : tos) {
                for (int budget : budgets) {
                    List<Entry> range = entries(index.range(from, to, budget));
                    ReadExtent extent = index.extent(from, to, budget);
                    String at = "from " + from + " to " + to + " budget " + budget;
                    if (range.isEmpty()) {
                        assertNull(extent, at);
                        continue;
                    }
                    Entry last = range.get(range.size() - 1);
                    assertEquals(
                            new ReadExtent(range.get(0).position(), last.position() + last.length(), range.size()),
                            extent,
                            at);
                }
            }
        }
    }

    @Test
    void aRangeStartsAtTheMessageHoldingFromAndCoversTheBudget() {
        StreamIndex index = tenMessages();
        // 35 is inside the message at 30 (30 bytes); a 50-byte budget takes it and the next (40 bytes).
        assertEquals(new ReadExtent(30, 100, 2), index.extent(35, Long.MAX_VALUE, 50));
        assertEquals(new ReadExtent(30, 60, 1), index.extent(30, Long.MAX_VALUE, 30));
        assertEquals(new ReadExtent(30, 100, 2), index.extent(30, 61, 1000)); // to cuts the range, not the rows
        assertEquals(new ReadExtent(450, 550, 1), index.extent(500, Long.MAX_VALUE, 1));
        assertNull(index.extent(550, Long.MAX_VALUE, 100)); // at the tail
        index.trim(60);
        assertEquals(new ReadExtent(60, 100, 1), index.extent(0, Long.MAX_VALUE, 1)); // trimmed below
    }

    /**
     * Across chunk boundaries, against a plain list: messages of random sizes appended, the prefix
     * trimmed now and then (sometimes mid-chunk, sometimes everything), and every lookup compared.
     */
    @Test
    void aLongStreamInChunksAnswersLikeAPlainList() {
        answersLikeAPlainList(14, false, null);
    }

    /** The same with its full chunks moved to a chunk file as it grows, and their slots given back as it is trimmed. */
    @Test
    void aLongStreamWithItsChunksInAFileAnswersLikeAPlainList(@TempDir Path dir) {
        try (ChunkFile file = ChunkFile.open(dir)) {
            answersLikeAPlainList(14, false, file);
            answersLikeAPlainList(15, true, file);
        }
    }

    /**
     * Only the newest chunk stays on the heap: the log keeps about 12 bytes a message in its
     * indexes, and on the heap they grew with the data kept until the JVM ran out of memory.
     */
    @Test
    void fullChunksLeaveTheHeapAndTheirSlotsAreReused(@TempDir Path dir) throws Exception {
        try (ChunkFile file = ChunkFile.open(dir)) {
            StreamIndex index = new StreamIndex(file);
            for (int i = 0; i < 5 * StreamIndex.CHUNK + 1; i++) {
                index.add(3L * i, 7L * i, 3);
            }
            assertEquals(1, index.chunksOnHeap(), "five full chunks in the file, the sixth (one message) filling");
            assertEquals(5, file.slotsInUse());
            assertEquals(
                    new Entry(3L * 4097, 7L * 4097, 3),
                    entries(index.range(3L * 4097, Long.MAX_VALUE, 1)).get(0));

            index.trim(3L * 2 * StreamIndex.CHUNK); // the first two chunks go
            assertEquals(3, file.slotsInUse());
            StreamIndex other = new StreamIndex(file);
            for (int i = 0; i < 2 * StreamIndex.CHUNK + 1; i++) {
                other.add(i, 1_000_000L + i, 1);
            }
            assertEquals(5, file.slotsInUse(), "the two slots given back are taken again");
            assertEquals(
                    new Entry(3L * 2 * StreamIndex.CHUNK, 7L * 2 * StreamIndex.CHUNK, 3),
                    entries(index.range(0, Long.MAX_VALUE, 1)).get(0),
                    "the trimmed index still reads its own chunks");
            assertEquals(
                    new Entry(5, 1_000_005, 1),
                    entries(other.range(5, Long.MAX_VALUE, 1)).get(0));

            index.release();
            assertEquals(2, file.slotsInUse());
            assertEquals(0, index.size());
        }
    }

    /**
     * A quiet stream's filling chunk goes to the file in a slot of its size (a log of many short
     * streams kept about 12 bytes a message of them on the heap), and the next message brings it
     * back to the heap, its slot free for another.
     */
    @Test
    void aParkedChunkTakesASlotOfItsSizeAndTheNextAddBringsItBack(@TempDir Path dir) {
        try (ChunkFile file = ChunkFile.open(dir)) {
            List<StreamIndex> streams = new java.util.ArrayList<>();
            for (int s = 0; s < 256; s++) {
                StreamIndex index = new StreamIndex(file);
                for (int i = 0; i < 20; i++) {
                    index.add(i, 1000L * s + i, 1);
                }
                index.park();
                streams.add(index);
            }
            assertEquals(0, streams.stream().mapToInt(StreamIndex::chunksOnHeap).sum());
            assertEquals(256, file.slotsInUse());
            assertEquals(2, file.pages(), "slots of 32 messages, 128 to a page, every one taken");
            StreamIndex one = streams.get(5);
            assertEquals(
                    new Entry(7, 5007, 1),
                    entries(one.range(7, Long.MAX_VALUE, 1)).get(0));

            one.add(20, 5020, 1);
            assertEquals(1, one.chunksOnHeap(), "back on the heap with its next message");
            assertEquals(255, file.slotsInUse());
            List<Entry> all = new java.util.ArrayList<>();
            for (int i = 0; i <= 20; i++) {
                all.add(new Entry(i, 5000 + i, 1));
            }
            assertEquals(all, entries(one.range(0, Long.MAX_VALUE, Integer.MAX_VALUE)));

            for (int i = 21; i < 40; i++) {
                one.add(i, 5000 + i, 1);
            }
            one.park();
            assertEquals(256, file.slotsInUse());
            assertEquals(3, file.pages(), "40 messages take a slot of 64, from a new page");
            for (int i = 0; i < 40; i++) {
                assertEquals(
                        new Entry(i, 5000 + i, 1),
                        entries(one.range(i, Long.MAX_VALUE, 1)).get(0));
            }
            streams.get(6).add(20, 6020, 1); // its slot of 32 goes free
            StreamIndex next = new StreamIndex(file);
            for (int i = 0; i < 30; i++) {
                next.add(i, i, 1);
            }
            next.park();
            assertEquals(256, file.slotsInUse());
            assertEquals(3, file.pages(), "a slot of 32 given back is taken again, not a new page's");
        }
    }

    /** An index read from a first-version checkpoint (on the heap) is copied into the chunk file at open. */
    @Test
    void aCopyMovesAHeapIndexIntoTheFile(@TempDir Path dir) {
        StreamIndex heap = new StreamIndex();
        for (int i = 0; i < 2 * StreamIndex.CHUNK + 1; i++) {
            heap.add(2L * i, 5L * i, 2);
        }
        heap.trim(2L * 10); // what a checkpoint says was kept
        try (ChunkFile file = ChunkFile.open(dir)) {
            StreamIndex copy = heap.withChunksIn(file);
            assertEquals(3, heap.chunksOnHeap());
            assertEquals(1, copy.chunksOnHeap(), "its first full chunk in the file, the rest on the heap");
            assertEquals(heap.size(), copy.size());
            assertEquals(
                    entries(heap.range(0, Long.MAX_VALUE, Integer.MAX_VALUE)),
                    entries(copy.range(0, Long.MAX_VALUE, Integer.MAX_VALUE)));
        }
    }

    /** A chunk file that cannot take a chunk (closed here; a full disk alike) leaves it on the heap, still read right. */
    @Test
    void aChunkTheFileCannotTakeStaysOnTheHeap(@TempDir Path dir) {
        ChunkFile file = ChunkFile.open(dir);
        file.close();
        StreamIndex index = new StreamIndex(file);
        for (int i = 0; i < 3 * StreamIndex.CHUNK; i++) {
            index.add(i, i, 1);
        }
        assertEquals(3, index.chunksOnHeap());
        assertEquals(
                new Entry(5000, 5000, 1),
                entries(index.range(5000, Long.MAX_VALUE, 1)).get(0));
    }

    /** The file is unlinked once open, and one a crash left behind is deleted at the next open. */
    @Test
    void theChunkFileLeavesNothingInTheDirectory(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("index-123.chunks"), "left by a crash");
        try (ChunkFile file = ChunkFile.open(dir)) {
            assertEquals(List.of(), Files.list(dir).toList());
            assertEquals(0, file.slotsInUse());
        }
    }

    /**
     * The same with offsets a chunk cannot keep as ints: now and then a message of over a GiB
     * (positions), or gigabytes of other streams' data between two messages (log offsets).
     */
    @Test
    void chunksWhoseOffsetsOutgrowAnIntAnswerLikeAPlainListToo() {
        answersLikeAPlainList(15, true, null);
    }

    private static void answersLikeAPlainList(long seed, boolean wide, ChunkFile file) {
        java.util.Random random = new java.util.Random(seed);
        StreamIndex index = new StreamIndex(file);
        List<Entry> model = new java.util.ArrayList<>();
        long position = 0;
        long location = 3;
        for (int round = 0; round < 12; round++) {
            int n = random.nextInt(StreamIndex.CHUNK * 2);
            for (int i = 0; i < n; i++) {
                int length = wide && random.nextInt(3000) == 0
                        ? (1 << 30) + random.nextInt(1 << 29)
                        : 1 + random.nextInt(300);
                location += wide && random.nextInt(2000) == 0 ? 3L << 30 : 7L * random.nextInt(50);
                Entry e = new Entry(position, location, length);
                index.add(e.position(), e.location(), e.length());
                model.add(e);
                position += length;
                if (file != null && random.nextInt(700) == 0) {
                    index.park(); // quiet for a while: the next add brings the chunk back
                }
            }
            long before = round % 5 == 4 ? position : (long) (position * random.nextDouble());
            index.trim(before);
            if (file != null && random.nextBoolean()) {
                index.park(); // the lookups below read its filling chunk from the file
            }
            model.removeIf(e -> e.position() + e.length() <= before);
            assertEquals(model.size(), index.size(), "round " + round);
            assertEquals(model.isEmpty() ? Long.MAX_VALUE : model.get(0).location(), index.lowestLocation());
            assertEquals(
                    model.isEmpty() ? Long.MAX_VALUE : model.get(0).position(),
                    index.kept().firstPosition());
            for (int probe = 0; probe < 200; probe++) {
                long from = model.isEmpty()
                        ? position
                        : model.get(0).position()
                                + (long) (random.nextDouble()
                                        * (position - model.get(0).position() + 10));
                int budget = wide && random.nextBoolean() ? Integer.MAX_VALUE : random.nextInt(5000);
                long to = random.nextBoolean() ? Long.MAX_VALUE : from + random.nextInt(20_000);
                List<Entry> expected = new java.util.ArrayList<>();
                long bytes = 0;
                for (Entry e : model) {
                    if (e.position() + e.length() <= from) {
                        continue;
                    }
                    if (e.position() >= to || (!expected.isEmpty() && bytes >= budget)) {
                        break;
                    }
                    expected.add(e);
                    bytes += e.length();
                }
                String where = "round " + round + " from " + from + " to " + to;
                assertEquals(expected, entries(index.range(from, to, budget)), where);
                if (expected.isEmpty()) {
                    assertNull(index.extent(from, to, budget), where);
                    assertNull(index.span(from, to, budget), where);
                } else {
                    Entry a = expected.get(0);
                    Entry z = expected.get(expected.size() - 1);
                    assertEquals(
                            new ReadExtent(a.position(), z.position() + z.length(), expected.size()),
                            index.extent(from, to, budget),
                            where);
                    assertEquals(
                            List.of(a.location(), z.location() + z.length()),
                            java.util.Arrays.stream(index.span(from, to, budget))
                                    .boxed()
                                    .toList(),
                            where);
                }
            }
        }
    }
}
