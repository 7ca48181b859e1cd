package dev.tether.stream;

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
 * when it covers the range (no thread hop), else from the store on a virtual thread, at most
 * {@code readThreads} store reads at a time.
 *
 * <p>Thread-safe.
 */
final class CatchUpReads implements AutoCloseable {
    private final StreamReader reader;
    private final int chunkBytes;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private final Semaphore permits;

    CatchUpReads(StreamReader reader, EngineSettings settings) {
        this.reader = reader;
        this.chunkBytes = settings.readChunkBytes();
        this.permits = new Semaphore(settings.readThreads());
    }

    CompletionStage<ReadResult> read(StreamRecord r, long start) {
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
        return CompletableFuture.supplyAsync(() -> readBlocking(r, start), threads);
    }

    private ReadResult readBlocking(StreamRecord r, long start) {
        permits.acquireUninterruptibly();
        try {
            return toData(r, start, reader.readChainBlocking(r, start, r.tail(), chunkBytes));
        } catch (StoreException e) {
            throw new CompletionException(e);
        } finally {
            permits.release();
        }
    }

    private ReadResult toData(StreamRecord r, long start, List<StoredMessage> messages) {
        if (!messages.isEmpty() && messages.get(0).position() != start) {
            return new Rejection.Invalid("offset " + reader.offsetOf(r, start)
                    + " is not at a message boundary; use an offset returned by the server");
        }
        long next =
                messages.isEmpty() ? start : messages.get(messages.size() - 1).end();
        return new ReadResult.Data(r, start, next, reader.offsetOf(r, next), messages, next == r.tail());
    }

    private static CompletionStage<ReadResult> done(ReadResult result) {
        return CompletableFuture.completedFuture(result);
    }

    @Override
    public void close() {
        threads.shutdown();
    }
}
