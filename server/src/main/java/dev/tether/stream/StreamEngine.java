package dev.tether.stream;

import dev.tether.store.SharedStreamStore;
import dev.tether.store.StoreException;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.Lifecycle;
import dev.tether.store.StreamStore;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

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
    private final MemoryBudget memory;
    private final StreamRegistry registry;
    private final StreamReader reader;
    private final StreamWriter writer;
    private final CatchUpReads reads;
    /** Cluster mode (a store other nodes write too), else null. */
    private final RegistrySync sync;

    public StreamEngine(StreamStore store, InstantSource clock, EngineSettings settings) throws StoreException {
        this(store, clock, settings, EngineObserver.NONE);
    }

    /**
     * The engine takes {@code store} over: {@link #close} closes it, and so does this constructor
     * when it fails (a store that cannot load), so a failed start leaves no file, lock or
     * connection open.
     *
     * @param observer hears of commits, flushes and published appends (metrics)
     */
    public StreamEngine(StreamStore store, InstantSource clock, EngineSettings settings, EngineObserver observer)
            throws StoreException {
        this.store = store;
        this.clock = clock;
        RegistrySync madeSync = null;
        CatchUpReads madeReads = null;
        try {
            this.memory = new MemoryBudget(settings.maxMemoryBytes());
            this.registry = new StreamRegistry(settings.recentWindowBytes(), memory);
            var contents = store.load();
            registry.load(contents, clock.millis());
            this.reader = new StreamReader(registry, store);
            madeSync = store instanceof SharedStreamStore shared
                    ? new RegistrySync(shared, registry, clock, settings.recentWindowBytes())
                    : null;
            this.sync = madeSync;
            this.writer = new StreamWriter(
                    store, registry, reader, clock, firstIdBase(contents, clock), sync, settings, observer);
            madeReads = new CatchUpReads(reader, settings);
            this.reads = madeReads;
            LOG.log(System.Logger.Level.DEBUG, "loaded " + registry.size() + " streams from " + store.describe());
            if (sync != null) {
                sync.start();
            }
            writer.start(); // last: nothing after it can fail and leave the writer running on a closed store
        } catch (StoreException | RuntimeException | Error e) {
            closeAfterFailedStart(madeReads, madeSync, e);
            throw e;
        }
    }

    /** Closes what a failed constructor made and the store it was given, each whatever the others do. */
    private void closeAfterFailedStart(CatchUpReads madeReads, RegistrySync madeSync, Throwable failure) {
        List<Runnable> closes = new ArrayList<>();
        if (madeReads != null) {
            closes.add(madeReads::close);
        }
        if (madeSync != null) {
            closes.add(madeSync::close);
        }
        closes.add(store::close);
        for (Runnable close : closes) {
            try {
                close.run();
            } catch (RuntimeException e) {
                failure.addSuppressed(e);
            }
        }
    }

    /**
     * Ids continue from the store's high-water mark. A store that never allocated one (a new
     * database, or the memory store after a restart) starts from the clock, so an offset a client
     * kept from an earlier store never names a stream of this one.
     */
    private static long firstIdBase(dev.tether.store.StoreContents contents, InstantSource clock) {
        return contents.maxStreamId() > 0 ? contents.maxStreamId() : clock.millis() * 1000;
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
            result.completeExceptionally(memory.full("a write", bytes));
            return false;
        }
        long reserved = bytes;
        result.whenComplete((r, t) -> memory.release(reserved));
        return true;
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

    /**
     * Metadata without renewing the TTL (HEAD). In cluster mode this reads the shared store, so
     * that it sees what other nodes acknowledged.
     */
    public Lookup lookup(String path) {
        return lookup(path, true);
    }

    /**
     * A lookup answered from this node's view when it knows the stream (in cluster mode it may be
     * behind other nodes by the change feed's delay), else as {@link #lookup}: for decisions the
     * writer checks again against the store, such as how to split a body.
     */
    public Lookup peek(String path) {
        return lookup(path, registry.byPath(path) == null);
    }

    private Lookup lookup(String path, boolean readThrough) {
        if (sync != null && readThrough) {
            try {
                sync.lookup(path);
            } catch (StoreException e) {
                return new Rejection.Unavailable("storage unavailable: " + e.getMessage());
            }
        }
        StreamState s = registry.byPath(path);
        // Only a live stream expires (as Lifecycles.current has it): one deleted and kept for its forks stays 410.
        if (s == null
                || s.record.lifecycle() == Lifecycle.DETACHED
                || s.record.lifecycle() == Lifecycle.LIVE && s.expired(clock.millis())) {
            return new Rejection.NotFound("stream " + path + " does not exist");
        }
        if (s.record.lifecycle() == Lifecycle.SOFT_DELETED) {
            return new Rejection.Gone("stream " + path + " has been deleted");
        }
        return new Lookup.Found(s.record);
    }

    /** Renews a stream's sliding TTL as a read would, without reading (a cached view was used). */
    public void touch(String path) {
        StreamState s = registry.byPath(path);
        if (s != null) {
            long now = clock.millis();
            s.renew(now);
            if (sync != null) {
                sync.renew(s, now);
            }
        }
    }

    /**
     * A catch-up read by position in the stream now at {@code path}, for internal callers that
     * hold positions of their own; renews the TTL.
     *
     * @param from the position to read from, or null for the start ("-1"); {@link Long#MAX_VALUE}
     *             for the tail ("now")
     */
    public CompletionStage<ReadResult> read(String path, Long from) {
        return read(
                path, from == null ? ReadFrom.START : from == Long.MAX_VALUE ? ReadFrom.TAIL : null, from, true, false);
    }

    /**
     * A catch-up read; renews the TTL. An offset must belong to the stream now at {@code path}:
     * issued by it, or by a stream it was forked from at or below the fork point (the byte space
     * is shared, Durable Streams §4.2), or, for streams older than incarnation-scoped offsets, an
     * unscoped one. An offset of an earlier stream at the same path (deleted and created again)
     * is 410: what it pointed at is gone, and the client should read again from {@code -1}.
     */
    public CompletionStage<ReadResult> read(String path, ReadFrom from) {
        return read(path, from, null, true, false);
    }

    /**
     * {@link #read(String, ReadFrom)} for a caller that sends the bytes on as they come (an HTTP
     * catch-up GET): a read the store can plan from its index comes back as {@link Pieces}, larger
     * than a buffered read could be, for the caller to read and send piece by piece.
     */
    public CompletionStage<ReadResult> catchUp(String path, ReadFrom from) {
        return read(path, from, null, true, true);
    }

    /**
     * The next read of a reader already following the stream here, woken by {@link #watch}: the
     * wake-up brought this node's view up to date, so in cluster mode it is answered from it
     * without looking the stream up in the shared store again (a first read uses {@link #read}).
     */
    public CompletionStage<ReadResult> follow(String path, ReadFrom from) {
        return read(path, from, null, false, false);
    }

    private CompletionStage<ReadResult> read(
            String path, ReadFrom from, Long position, boolean readThrough, boolean pieced) {
        Lookup lookup = lookup(path, readThrough || registry.byPath(path) == null);
        if (!(lookup instanceof Lookup.Found found)) {
            return CompletableFuture.completedFuture((Rejection) lookup);
        }
        StreamRecord r = found.stream();
        long start;
        switch (from) {
            case ReadFrom.Start s -> start = reader.startPosition(r);
            case ReadFrom.Tail t -> start = r.tail();
            case ReadFrom.At at -> {
                start = reader.positionOf(r, at.offset());
                if (start < 0) {
                    return done(notThisStream(r, at.offset(), "offset"));
                }
            }
            case null -> start = position;
        }
        touch(path); // the stream may have been deleted since the lookup: then there is nothing to renew
        return reads.read(r, start, pieced);
    }

    /** An offset that does not belong to {@code r}: never issued (400), or another incarnation's (410). */
    Rejection notThisStream(StreamRecord r, Offset offset, String what) {
        if (offset.incarnation() > writer.lastId()) {
            return new Rejection.Invalid(
                    what + " " + offset + " is not an offset this server issued; use the value of Stream-Next-Offset");
        }
        return new Rejection.Gone(what + " " + offset + " was issued for another stream than the one now at "
                + r.path() + " (an earlier stream at that path, since deleted, or a different stream); "
                + "its data is gone: read from -1 to start over");
    }

    /** The offset {@code r} hands out for {@code position}: the incarnation of the stream owning that byte. */
    public Offset offsetOf(StreamRecord r, long position) {
        return reader.offsetOf(r, position);
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

    /** The paths of live streams under {@code prefix} (for layers that keep an index of their own streams). */
    public java.util.List<String> paths(String prefix) {
        if (sync != null) {
            try {
                sync.adoptAll(); // other nodes created streams this one has not seen
            } catch (StoreException e) {
                LOG.log(System.Logger.Level.WARNING, "listing " + prefix + " from the shared store failed: " + e);
            }
        }
        long now = clock.millis();
        return registry.all().stream()
                .filter(s -> s.record.lifecycle() == Lifecycle.LIVE && !s.expired(now))
                .map(s -> s.record.path())
                .filter(p -> p.startsWith(prefix))
                .sorted()
                .toList();
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
        reads.close();
        if (sync != null) {
            sync.close();
        }
        store.close();
    }
}
