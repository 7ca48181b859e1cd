package dev.tether.store.log;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.stream.AppendRequest;
import dev.tether.stream.AppendResult;
import dev.tether.stream.CreateRequest;
import dev.tether.stream.CreateResult;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.Pieces;
import dev.tether.stream.ReadFrom;
import dev.tether.stream.ReadResult;
import dev.tether.stream.StreamEngine;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store read whose bytes are all in the page cache (a catch-up piece, or a read smaller than
 * one) runs on the thread that asks for it (a request's event loop), with no hand-off to a
 * reading thread and back; one the store cannot vouch for (here: its segment not mapped yet, so
 * the read maps it) goes to a reading thread, where a disk read blocks nobody else. With the
 * residency check gone, or always false, the second reads below run on a reading thread and these
 * fail; with it always true, the first piece is read on the caller's thread and the first fails.
 */
class ResidentReadsTest {
    private static final int MESSAGE = 1024;

    @TempDir
    Path dir;

    @Test
    void aPieceInThePageCacheIsReadOnTheCallersThreadAndAnUnmappedOneOnAReadingThread() throws Exception {
        StreamEngine engine = engine();
        try {
            fill(engine, 3000); // 3 MB: a read of several pieces
            ReadResult.Data read = assertInstanceOf(
                    ReadResult.Data.class,
                    engine.catchUp("s", ReadFrom.START).toCompletableFuture().get(10, TimeUnit.SECONDS));
            Pieces pieces = read.pieces();
            assertNotNull(pieces, "a read of 3 MB from the log store is planned in pieces");

            Recorder first = new Recorder();
            long end = pieces.read(read.from(), first).toCompletableFuture().get(10, TimeUnit.SECONDS);
            assertNotEquals(Thread.currentThread(), first.thread, "not mapped yet: read on a reading thread");

            Recorder again = new Recorder();
            assertEquals(
                    end, pieces.read(read.from(), again).toCompletableFuture().get(10, TimeUnit.SECONDS));
            assertEquals(Thread.currentThread(), again.thread, "mapped and in the page cache: read right here");
            assertEquals(first.bytes, again.bytes, "the same piece either way");
            assertEquals(Pieces.PIECE_BYTES, first.bytes, "a whole piece (512 messages of 1 KiB)");
        } finally {
            engine.close();
        }
    }

    @Test
    void aSmallerReadInThePageCacheIsAnsweredBeforeTheCallReturns() throws Exception {
        StreamEngine engine = engine();
        try {
            fill(engine, 200); // 200 KB: more than the recent window keeps, less than a piece
            ReadResult.Data first = assertInstanceOf(
                    ReadResult.Data.class,
                    engine.read("s", ReadFrom.START).toCompletableFuture().get(10, TimeUnit.SECONDS));
            assertEquals(200 * MESSAGE, first.next() - first.from(), "the whole stream in one read");

            CompletableFuture<?> again = engine.read("s", ReadFrom.START).toCompletableFuture();
            assertTrue(again.isDone(), "mapped and in the page cache: read on the calling thread");
            ReadResult.Data second = assertInstanceOf(ReadResult.Data.class, again.get());
            assertEquals(200, second.messages().size());
            assertArrayEquals(
                    first.messages().get(199).data(), second.messages().get(199).data());
        } finally {
            engine.close();
        }
    }

    private StreamEngine engine() throws Exception {
        return new StreamEngine(LogStreamStore.open(dir), InstantSource.system(), EngineSettings.defaults());
    }

    /** Creates the binary stream "s" and appends {@code count} messages of 1 KiB to it, in one append. */
    private static void fill(StreamEngine engine, int count) throws Exception {
        assertInstanceOf(
                CreateResult.Created.class,
                engine.create(new CreateRequest("s", "application/octet-stream", null, null, false, List.of(), null))
                        .toCompletableFuture()
                        .get(10, TimeUnit.SECONDS));
        List<byte[]> batch = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] m = new byte[MESSAGE];
            m[0] = (byte) i;
            batch.add(m);
        }
        assertInstanceOf(
                AppendResult.Appended.class,
                engine.append(new AppendRequest("s", "application/octet-stream", batch, false, null, null))
                        .toCompletableFuture()
                        .get(10, TimeUnit.SECONDS));
    }

    /** Which thread a piece's rows came on, and how many bytes they held. */
    private static final class Recorder implements Pieces.Sink {
        Thread thread;
        long bytes;

        @Override
        public void size(int rows, long bytes) {}

        @Override
        public void row(long position, ByteBuffer data) {
            thread = Thread.currentThread();
            bytes += data.remaining();
        }
    }
}
