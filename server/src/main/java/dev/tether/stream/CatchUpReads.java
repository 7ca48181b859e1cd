package dev.tether.stream;

import dev.tether.store.ReadExtent;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;

/**
 * One chunk of a stream from a position already checked to belong to it: from the recent window
 * when it covers the range, or from the store on the calling thread when the store says every
 * byte of it is in memory (no thread hop either way), else from the store on a virtual thread, at
 * most {@code readThreads} store reads at a time.
 *
 * <p>Thread-safe.
 */
final class CatchUpReads implements AutoCloseable {
    private final StreamReader reader;
    private final int chunkBytes;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private final Semaphore permits;
    /** A read planned for {@link Pieces} may cover this many chunks: memory holds a piece or two, not the read. */
    static final int PIECED_CHUNKS = 4;

    CatchUpReads(StreamReader reader, EngineSettings settings) {
        this.reader = reader;
        this.chunkBytes = settings.readChunkBytes();
        this.permits = new Semaphore(settings.readThreads());
    }

    /**
     * @param pieced whether the caller can take a {@link Pieces} read: then a store read larger
     *     than one piece, of up to {@link #PIECED_CHUNKS} chunks, is planned from the store's index
     *     and read piece by piece instead of at once
     */
    CompletionStage<ReadResult> read(StreamRecord r, long start, boolean pieced) {
        if (start > r.tail()) {
            return done(new Rejection.Invalid(
                    "offset " + reader.offsetOf(r, start) + " is beyond the stream's tail " + Offset.tail(r)));
        }
        if (reader.trimmed(r, start)) {
            return done(new Rejection.Gone("offset " + reader.offsetOf(r, start) + " is below the retained data; "
                    + "the earliest readable offset is " + reader.offsetOf(r, reader.startPosition(r))));
        }
        if (start == r.tail()) {
            return done(new ReadResult.Data(r, start, start, Offset.tail(r), List.of(), true));
        }
        List<StoredMessage> fast = reader.readFromMemory(r, start, r.tail(), chunkBytes);
        if (fast != null) {
            return done(toData(r, start, fast));
        }
        if (pieced) {
            ReadExtent e = reader.extent(r, start, r.tail(), PIECED_CHUNKS * chunkBytes);
            if (e != null && e.end() - start > Pieces.PIECE_BYTES) {
                return done(planned(r, start, e));
            }
        }
        return storeRead(
                reader.resident(r, start, r.tail(), chunkBytes),
                () -> toData(r, start, reader.readChainBlocking(r, start, r.tail(), chunkBytes)));
    }

    /**
     * Runs a store read where it belongs: on the calling thread when its bytes are all in memory
     * ({@code resident}, see {@link #inMemory}), else on a virtual thread, as one of at most
     * {@code readThreads} store reads ({@link #withPermit}).
     */
    private <T> CompletionStage<T> storeRead(boolean resident, StoreRead<T> read) {
        return resident ? inMemory(read) : CompletableFuture.supplyAsync(() -> withPermit(read), threads);
    }

    /** A store read that may block. */
    private interface StoreRead<T> {
        T run() throws StoreException;
    }

    /** Runs {@code read} as one of at most {@code readThreads} store reads; a failure completes the stage. */
    private <T> T withPermit(StoreRead<T> read) {
        permits.acquireUninterruptibly();
        try {
            return read.run();
        } catch (StoreException e) {
            throw new CompletionException(e);
        } finally {
            permits.release();
        }
    }

    private ReadResult toData(StreamRecord r, long start, List<StoredMessage> messages) {
        if (messages.isEmpty() ? start < r.tail() : messages.get(0).position() > start) {
            return trimmedUnderTheRead(r, start);
        }
        if (!messages.isEmpty() && messages.get(0).position() != start) {
            return notAtBoundary(r, start);
        }
        long next =
                messages.isEmpty() ? start : messages.get(messages.size() - 1).end();
        return new ReadResult.Data(r, start, next, reader.offsetOf(r, next), messages, next == r.tail());
    }

    /** A read of {@code [start, e.end())} to be read in pieces. */
    private ReadResult planned(StreamRecord r, long start, ReadExtent e) {
        if (e.first() > start) {
            return trimmedUnderTheRead(r, start);
        }
        if (e.first() != start && ContentTypes.isJson(r.contentType())) {
            return notAtBoundary(r, start); // a binary read may start inside a message: its first piece is cut
        }
        long end = e.end();
        Pieces pieces = new Pieces() {
            @Override
            public int rows() {
                return e.rows();
            }

            @Override
            public CompletionStage<Long> read(long from, Sink sink) {
                return storeRead(
                        reader.resident(r, from, end, Pieces.PIECE_BYTES), () -> readPiece(r, from, end, sink));
            }
        };
        return new ReadResult.Data(r, start, end, reader.offsetOf(r, end), List.of(), end == r.tail(), pieces);
    }

    /**
     * A store read whose bytes are all in memory ({@link StreamReader#resident}), run on the
     * calling thread (a request's event loop): no hand-off to a reading thread and back (context
     * switches, wake-ups), which on catch-ups of 2.5 MB from the page cache took 4-13% of the
     * server's CPU per byte in eight of nine A/B pairs (docs/benchmarks.md, 2026-12-06). Not
     * counted against {@code readThreads}: it holds no thread.
     */
    private static <T> CompletionStage<T> inMemory(StoreRead<T> read) {
        try {
            return CompletableFuture.completedFuture(read.run());
        } catch (StoreException | RuntimeException e) {
            return CompletableFuture.failedFuture(new CompletionException(e)); // as a reading thread's failure
        }
    }

    /** One piece of a planned read: sized from the index, then scanned into {@code sink}. */
    private long readPiece(StreamRecord r, long from, long end, Pieces.Sink sink) throws StoreException {
        ReadExtent piece = reader.extent(r, from, end, Pieces.PIECE_BYTES);
        if (piece == null || piece.first() > from) {
            throw new StoreException("the messages at " + from + " are gone since the read was planned", null, false);
        }
        long pieceEnd = piece.end();
        long[] seen = {from};
        sink.size(piece.rows(), pieceEnd - from);
        reader.scanOwn(r, from, pieceEnd, Pieces.PIECE_BYTES, (position, bytes) -> {
            if (position != seen[0]) {
                throw new StoreException(
                        "the messages at " + seen[0] + " changed since the read was planned", null, false);
            }
            seen[0] += bytes.remaining();
            sink.row(position, bytes);
        });
        if (seen[0] != pieceEnd) {
            throw new StoreException(
                    "the messages up to " + pieceEnd + " are gone since the read was planned", null, false);
        }
        return pieceEnd;
    }

    /**
     * The store holds nothing at {@code start}, which {@code r} says it does: a trim (retention) or
     * a drop of the stream reached the store's index after this read took {@code r}, before the
     * writer published the new record (it does so once the change is durable).
     */
    private Rejection trimmedUnderTheRead(StreamRecord r, long start) {
        return new Rejection.Gone("offset " + reader.offsetOf(r, start)
                + " is no longer retained (trimmed or deleted as it was read); read from -1 for the earliest one");
    }

    private Rejection notAtBoundary(StreamRecord r, long start) {
        return new Rejection.Invalid("offset " + reader.offsetOf(r, start)
                + " is not at a message boundary; use an offset returned by the server");
    }

    private static CompletionStage<ReadResult> done(ReadResult result) {
        return CompletableFuture.completedFuture(result);
    }

    @Override
    public void close() {
        threads.shutdown();
    }
}
