package dev.tether.stream;

import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.Lifecycle;
import dev.tether.store.StreamStore;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;

/**
 * The durable stream engine: append-only, offset-addressed logs over a {@link StreamStore}.
 * Writes go through one writer (group commit); reads are served from memory when they touch
 * only recent data and from the store otherwise, never blocking the writer.
 *
 * <p>Thread-safe. Methods returning {@link CompletionStage} complete on engine threads; callers
 * must hop back to their own thread before doing I/O.
 */
public final class StreamEngine implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(StreamEngine.class.getName());

    private final StreamStore store;
    private final InstantSource clock;
    private final EngineSettings settings;
    private final MemoryBudget memory;
    private final StreamRegistry registry;
    private final StreamReader reader;
    private final StreamWriter writer;
    private final ExecutorService readers = Executors.newVirtualThreadPerTaskExecutor();
    private final Semaphore readPermits;

    public StreamEngine(StreamStore store, InstantSource clock, EngineSettings settings) throws StoreException {
        this.store = store;
        this.clock = clock;
        this.settings = settings;
        this.memory = new MemoryBudget(settings.maxMemoryBytes());
        this.registry = new StreamRegistry(settings.recentWindowBytes(), memory);
        var contents = store.load();
        registry.load(contents, clock.millis());
        this.reader = new StreamReader(registry, store);
        this.writer = new StreamWriter(store, registry, reader, clock, contents.maxStreamId(), settings);
        this.readPermits = new Semaphore(settings.readThreads());
        writer.start();
        LOG.log(System.Logger.Level.DEBUG, "loaded " + registry.size() + " streams from " + store.describe());
    }

    public CompletionStage<CreateResult> create(CreateRequest request) {
        CompletableFuture<CreateResult> result = new CompletableFuture<>();
        if (reserve(request.initialMessages(), result)) {
            writer.submit(new WriteCommand.Create(request, result));
        }
        return result;
    }

    public CompletionStage<AppendResult> append(AppendRequest request) {
        CompletableFuture<AppendResult> result = new CompletableFuture<>();
        if (reserve(request.messages(), result)) {
            writer.submit(new WriteCommand.Append(request, result));
        }
        return result;
    }

    /**
     * A write's data counts against the memory budget from now until it is answered (queued,
     * staged, committed, flushed); false, with {@code result} failed, when it does not fit.
     */
    private boolean reserve(List<byte[]> messages, CompletableFuture<?> result) {
        long bytes = 0;
        for (byte[] m : messages) {
            bytes += m.length;
        }
        if (bytes == 0) {
            return true;
        }
        if (!memory.tryReserve(bytes)) {
            result.completeExceptionally(memoryFull(bytes));
            return false;
        }
        long reserved = bytes;
        result.whenComplete((r, t) -> memory.release(reserved));
        return true;
    }

    private WriteRejectedException memoryFull(long bytes) {
        return new WriteRejectedException(
                WriteRejectedException.Reason.MEMORY_FULL,
                "the server's memory budget (" + memory.limit() + " bytes) has no room for a " + bytes
                        + "-byte write right now; retry shortly",
                null);
    }

    /** The budget request bodies, queued writes, producer state and recent windows share. */
    public MemoryBudget memory() {
        return memory;
    }

    public CompletionStage<DeleteResult> delete(String path) {
        CompletableFuture<DeleteResult> result = new CompletableFuture<>();
        writer.submit(new WriteCommand.Delete(path, result));
        return result;
    }

    /** Metadata without renewing the TTL (HEAD). */
    public Lookup lookup(String path) {
        StreamState s = registry.byPath(path);
        if (s == null || s.record.lifecycle() == Lifecycle.DETACHED || s.expired(clock.millis())) {
            return new Rejection.NotFound("stream " + path + " does not exist");
        }
        if (s.record.lifecycle() == Lifecycle.SOFT_DELETED) {
            return new Rejection.Gone("stream " + path + " has been deleted");
        }
        return new Lookup.Found(s.record);
    }

    /**
     * A catch-up read; renews the TTL.
     *
     * @param from the position to read from, or null for the start ("-1"); {@link Long#MAX_VALUE}
     *             for the tail ("now")
     */
    public CompletionStage<ReadResult> read(String path, Long from) {
        Lookup lookup = lookup(path);
        if (!(lookup instanceof Lookup.Found found)) {
            return CompletableFuture.completedFuture((Rejection) lookup);
        }
        StreamRecord r = found.stream();
        registry.byPath(path).renew(clock.millis());
        long start = from == null ? reader.startPosition(r) : from == Long.MAX_VALUE ? r.tail() : from;
        if (start > r.tail()) {
            return done(new Rejection.Invalid(
                    "offset " + new Offset(start) + " is beyond the stream's tail " + new Offset(r.tail())));
        }
        if (reader.trimmed(r, start)) {
            return done(new Rejection.Gone("offset " + new Offset(start) + " is below the retained data; "
                    + "the earliest readable offset is " + new Offset(reader.startPosition(r))));
        }
        if (start == r.tail()) {
            return done(new ReadResult.Data(r, start, start, List.of(), true));
        }
        List<StoredMessage> fast = reader.readFromMemory(r, start, r.tail(), settings.readChunkBytes());
        if (fast != null) {
            return done(toData(r, start, fast));
        }
        return CompletableFuture.supplyAsync(() -> readBlocking(r, start), readers);
    }

    private ReadResult readBlocking(StreamRecord r, long start) {
        readPermits.acquireUninterruptibly();
        try {
            return toData(r, start, reader.readChainBlocking(r, start, r.tail(), settings.readChunkBytes()));
        } catch (StoreException e) {
            throw new java.util.concurrent.CompletionException(e);
        } finally {
            readPermits.release();
        }
    }

    private static ReadResult toData(StreamRecord r, long start, List<StoredMessage> messages) {
        if (!messages.isEmpty() && messages.get(0).position() != start) {
            return new Rejection.Invalid("offset " + new Offset(start)
                    + " is not at a message boundary; use an offset returned by the server");
        }
        long next =
                messages.isEmpty() ? start : messages.get(messages.size() - 1).end();
        return new ReadResult.Data(r, start, next, messages, next == r.tail());
    }

    private static CompletionStage<ReadResult> done(ReadResult result) {
        return CompletableFuture.completedFuture(result);
    }

    /**
     * Calls {@code listener} once, on an engine thread, as soon as the stream's tail moves past
     * {@code position}, the stream closes, or it goes away; immediately if that already happened.
     *
     * @return a handle that unregisters the listener
     */
    public Runnable watch(StreamRecord stream, long position, Runnable listener) {
        StreamState s = registry.byId(stream.id());
        if (s == null) {
            listener.run();
            return () -> {};
        }
        s.watchers.add(listener);
        StreamRecord now = s.record;
        if (now.tail() != position
                || now.closed()
                || now.lifecycle() != Lifecycle.LIVE
                || registry.byId(stream.id()) == null) {
            s.watchers.remove(listener);
            listener.run();
            return () -> {};
        }
        return () -> s.watchers.remove(listener);
    }

    /** Forces an expiry sweep (normally once a second). */
    public CompletionStage<Integer> sweepExpired() {
        CompletableFuture<Integer> result = new CompletableFuture<>();
        writer.submit(new WriteCommand.Sweep(result));
        return result;
    }

    public StorageHealth health() {
        return writer.health();
    }

    public int streamCount() {
        return registry.size();
    }

    /** Where the data lives, e.g. the database file: for logs and the CLI. */
    public String storeDescription() {
        return store.describe();
    }

    /** The store's kind, without paths: for /health. */
    public String storeKind() {
        return store.kind();
    }

    /** Stops taking writes, commits what is queued, then closes the store. */
    @Override
    public void close() {
        try {
            writer.shutdown();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        readers.shutdown();
        store.close();
    }
}
