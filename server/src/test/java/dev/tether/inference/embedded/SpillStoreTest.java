package dev.tether.inference.embedded;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.inference.embedded.disk.DurableFile;
import dev.tether.testing.ManualClock;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Spill files on disk: durable writes, start-up clean-up, the disk budget and the TTL. */
class SpillStoreTest {
    private static final int[] TOKENS = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    private static final long HOUR = Duration.ofHours(1).toMillis();

    @TempDir
    Path dir;

    private final ManualClock clock = new ManualClock(1_700_000_000_000L);

    private SpillStore open(long budget, Duration ttl) throws IOException {
        return new SpillStore(dir, "fp", budget, ttl, clock, DurableFile.FSYNC);
    }

    /** A state of {@code n} bytes; every file here is 75 header bytes plus its state. */
    private static MemorySegment state(int n, int seed) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) seed);
        return MemorySegment.ofArray(b);
    }

    @Test
    void eachSpillIsFlushedBeforeItIsRenamedIntoPlace() throws Exception {
        List<String> syncs = new ArrayList<>();
        DurableFile recording = new DurableFile(new DurableFile.Sync() {
            @Override
            public void file(Path file, FileChannel channel) throws IOException {
                syncs.add("file " + (DurableFile.isTemporary(file) ? "temporary" : file) + " " + channel.size());
            }

            @Override
            public void directory(Path d) {
                syncs.add("directory " + (d.equals(dir) ? "kv" : d));
            }
        });
        SpillStore store = new SpillStore(dir, "fp", Long.MAX_VALUE, null, clock, recording);
        store.write("a", TOKENS, state(1000, 1));
        assertEquals(List.of("file temporary 1075", "directory kv"), syncs);
        assertEquals(1075, Files.size(store.file("a")));
    }

    @Test
    void leftoversOfACrashAreDeletedAtStartUpAndWholeFilesKept() throws Exception {
        SpillStore first = open(Long.MAX_VALUE, null);
        first.write("whole", TOKENS, state(1000, 1));
        Files.write(dir.resolve(".0123.kv-42.tmp"), new byte[100]); // a temporary file of a write cut short
        Files.write(dir.resolve("0123.kv.tmp"), new byte[100]); // the same, from an older build
        Files.write(dir.resolve("00000000000000000000000000000000.kv"), new byte[0]); // power cut: name, no data
        byte[] whole = Files.readAllBytes(first.file("whole"));
        Files.write(dir.resolve("11111111111111111111111111111111.kv"), Arrays.copyOf(whole, 500)); // truncated
        Files.writeString(dir.resolve("notes.txt"), "not ours");

        SpillStore store = open(Long.MAX_VALUE, null);
        assertEquals(List.of(store.file("whole").getFileName().toString(), "notes.txt"), names());
        assertEquals(1, store.files());
        assertEquals(Files.size(store.file("whole")), store.bytes());
        assertArrayEquals(TOKENS, store.header("whole").tokens());
    }

    @Test
    void overTheBudgetTheLeastRecentlyWrittenFilesAreDeleted() throws Exception {
        SpillStore store = open(2500, null); // two files of 1075 bytes fit, three do not
        store.write("a", TOKENS, state(1000, 1));
        clock.advanceMillis(1000);
        store.write("b", TOKENS, state(1000, 2));
        clock.advanceMillis(1000);
        store.write("a", TOKENS, state(1000, 3)); // a is now newer than b
        clock.advanceMillis(1000);
        store.write("c", TOKENS, state(1000, 4));

        assertNull(store.header("b"), "b was the least recently written");
        assertNotNull(store.header("a"));
        assertNotNull(store.header("c"));
        assertEquals(1, store.overBudget);
        assertEquals(2150, store.bytes(), "the gauge counts the files on disk");
        assertEquals(2, store.files());
    }

    @Test
    void aFileAboutToBeRestoredIsKeptUntilItIsRead() throws Exception {
        SpillStore store = open(1500, null); // room for one file
        store.write("old", TOKENS, state(1000, 1));
        store.pin(); // a turn of "old" makes room for its restore by spilling another session
        store.write("c", TOKENS, state(1000, 2));
        assertNotNull(store.header("old"), "kept while pinned");
        assertNotNull(store.header("c"), "not deleted in its place");
        restore(store, "old");
        store.unpin();
        assertNull(store.header("old"), "once read, the restored session's file is the oldest to go");
        assertNotNull(store.header("c"));
        assertEquals(1, store.overBudget);
    }

    @Test
    void aStateLargerThanTheWholeBudgetIsNotWritten() throws Exception {
        SpillStore store = open(2000, null);
        store.write("small", TOKENS, state(1000, 1));
        assertFalse(store.write("big", TOKENS, state(3000, 2)));
        assertNull(store.header("big"));
        assertNotNull(store.header("small"), "nothing was deleted to make room for a file that cannot fit");
    }

    @Test
    void theWriteOrderSurvivesARestart() throws Exception {
        SpillStore store = open(Long.MAX_VALUE, null);
        store.write("a", TOKENS, state(1000, 1));
        clock.advanceMillis(1000);
        store.write("b", TOKENS, state(1000, 2));
        clock.advanceMillis(1000);
        store.write("a", TOKENS, state(1000, 3));
        assertEquals(
                clock.instant(),
                Files.getLastModifiedTime(store.file("a")).toInstant(),
                "a file's write time is kept as its modification time");

        SpillStore reopened = open(1500, null); // room for one: the least recently written goes
        assertNull(reopened.header("b"));
        assertNotNull(reopened.header("a"));
    }

    @Test
    void filesOlderThanTheTtlAreDeleted() throws Exception {
        SpillStore store = open(Long.MAX_VALUE, Duration.ofHours(1));
        store.write("old", TOKENS, state(1000, 1));
        clock.advanceMillis(HOUR / 2);
        store.write("recent", TOKENS, state(1000, 2));
        clock.advanceMillis(HOUR * 3 / 4);
        store.expire();

        assertNull(store.header("old"), "written 75 minutes ago");
        assertNotNull(store.header("recent"), "written 45 minutes ago");
        assertEquals(1, store.expired);

        clock.advanceMillis(HOUR);
        SpillStore reopened = open(Long.MAX_VALUE, Duration.ofHours(1));
        assertEquals(0, reopened.files(), "a restart applies the TTL by the files' times");
    }

    private static void restore(SpillStore store, String key) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            assertTrue(store.read(store.header(key), arena).byteSize() > 0);
        }
    }

    private List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
