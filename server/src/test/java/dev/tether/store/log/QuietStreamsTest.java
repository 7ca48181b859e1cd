package dev.tether.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stream's filling index chunk is parked once a whole period has passed without a write to it,
 * and a crowd of streams going quiet together is parked a bounded number per tick.
 */
class QuietStreamsTest {
    private static int written;

    private static void write(QuietStreams quiet, StreamIndex index) {
        index.add(written, written, 1);
        written++;
        quiet.written(index);
    }

    @Test
    void aStreamIsParkedWhenAWholePeriodPassesWithoutAWriteToIt(@TempDir Path dir) {
        try (ChunkFile file = ChunkFile.open(dir)) {
            QuietStreams quiet = new QuietStreams(0, 100);
            StreamIndex busy = new StreamIndex(file);
            StreamIndex idle = new StreamIndex(file);
            write(quiet, busy);
            write(quiet, idle);
            quiet.tick(99);
            quiet.tick(100); // the first period ends: its streams have had no period of quiet yet
            assertEquals(1, idle.chunksOnHeap());
            write(quiet, busy);
            quiet.tick(199);
            assertEquals(1, idle.chunksOnHeap(), "the second period has not ended");
            quiet.tick(200);
            assertEquals(0, idle.chunksOnHeap(), "no write in the whole second period: parked");
            assertEquals(1, busy.chunksOnHeap(), "written in it: kept");
            quiet.tick(300);
            assertEquals(0, busy.chunksOnHeap(), "then a period without a write");
            assertEquals(2, file.slotsInUse());
        }
    }

    @Test
    void manyStreamsGoneQuietAreParkedABoundedNumberPerTick(@TempDir Path dir) {
        try (ChunkFile file = ChunkFile.open(dir)) {
            QuietStreams quiet = new QuietStreams(0, 100);
            List<StreamIndex> streams = new ArrayList<>();
            int n = 2 * QuietStreams.PARKS_PER_TICK + 10;
            for (int i = 0; i < n; i++) {
                StreamIndex index = new StreamIndex(file);
                write(quiet, index);
                streams.add(index);
            }
            assertFalse(quiet.tick(100));
            assertTrue(quiet.tick(200), "more to park: tick again soon");
            assertEquals(QuietStreams.PARKS_PER_TICK, file.slotsInUse());
            assertTrue(quiet.tick(201));
            assertEquals(2 * QuietStreams.PARKS_PER_TICK, file.slotsInUse());
            write(quiet, streams.get(n - 1)); // written before its turn came: not quiet
            assertFalse(quiet.tick(202), "all parked");
            assertEquals(n - 1, file.slotsInUse());
            assertEquals(1, streams.stream().mapToInt(StreamIndex::chunksOnHeap).sum());
        }
    }

    @Test
    void aTickLooksAtABoundedNumberOfStreams(@TempDir Path dir) {
        try (ChunkFile file = ChunkFile.open(dir)) {
            QuietStreams quiet = new QuietStreams(0, 100);
            List<StreamIndex> busy = new ArrayList<>();
            for (int i = 0; i < QuietStreams.CHECKS_PER_TICK; i++) {
                StreamIndex index = new StreamIndex(file);
                write(quiet, index);
                busy.add(index);
            }
            StreamIndex idle = new StreamIndex(file);
            write(quiet, idle); // the last one looked at
            quiet.tick(100);
            busy.forEach(index -> write(quiet, index));
            assertTrue(quiet.tick(200), "every busy stream looked at: the idle one at the next tick");
            assertEquals(1, idle.chunksOnHeap());
            assertFalse(quiet.tick(201));
            assertEquals(0, idle.chunksOnHeap());
            assertEquals(1, file.slotsInUse());
        }
    }
}
