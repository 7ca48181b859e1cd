package dev.tether.stream;

import dev.tether.store.Commit;
import dev.tether.store.CommitResult;
import dev.tether.store.Mutation;
import dev.tether.store.StoreContents;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamStore;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A real store behind a recorder: numbers every commit, remembers which commit wrote each
 * message (by its text), and which commits each returned {@link #sync} made durable. A sync can
 * run a hook first (to inspect or hold the engine at that moment) and can be made to fail.
 *
 * <p>Thread-safe: the engine commits and syncs on its writer thread; tests read from theirs.
 */
final class RecordingStore implements StreamStore {
    private final StreamStore delegate;
    private final AtomicLong committed = new AtomicLong();
    private final AtomicLong durable = new AtomicLong();
    private final Map<String, Long> commitOfMessage = new ConcurrentHashMap<>();
    private final AtomicInteger failedSyncs = new AtomicInteger();
    private final AtomicLong mostCommitsPerSync = new AtomicLong();
    private final AtomicLong maintained = new AtomicLong();
    private final AtomicLong maintainedBeforeSync = new AtomicLong();
    private final AtomicInteger moreHousekeeping = new AtomicInteger();
    private volatile Runnable beforeSync = () -> {};
    private volatile Runnable beforeCommit = () -> {};
    private volatile boolean failSyncs;
    private volatile Error commitError;
    private volatile Error syncError;
    private volatile String failCommitOf;
    private volatile Exception commitFailure;

    RecordingStore(StreamStore delegate) {
        this.delegate = delegate;
    }

    /** Runs at the start of every sync, on the syncing thread, before anything is flushed. */
    void beforeSync(Runnable hook) {
        this.beforeSync = hook;
    }

    /** Runs at the start of every commit, on the writer thread, before anything is written. */
    void beforeCommit(Runnable hook) {
        this.beforeCommit = hook;
    }

    /** Every later sync throws, as fsync does when the kernel lost dirty pages. */
    void failSyncs(boolean fail) {
        this.failSyncs = fail;
    }

    /** The next commit throws this, as if the JVM ran out of memory inside it. */
    void throwOnCommit(Error error) {
        this.commitError = error;
    }

    /** The next sync throws this. */
    void throwOnSync(Error error) {
        this.syncError = error;
    }

    /** The commit that wrote this message, or {@link Long#MAX_VALUE} if none did. */
    long commitOf(String message) {
        return commitOfMessage.getOrDefault(message, Long.MAX_VALUE);
    }

    /** Commits up to this number are durable: a sync that started after them has returned. */
    long durableCommits() {
        return durable.get();
    }

    /** The most commits one successful {@link #sync} made durable. */
    long mostCommitsPerSync() {
        return mostCommitsPerSync.get();
    }

    /** How many calls of {@link #sync} failed as injected by {@link #failSyncs}. */
    int failedSyncs() {
        return failedSyncs.get();
    }

    @Override
    public StoreContents load() throws StoreException {
        return delegate.load();
    }

    /** The commit of a batch appending {@code message} throws {@code failure} instead. */
    void failCommitOf(String message, StoreException failure) {
        this.failCommitOf = message;
        this.commitFailure = failure;
    }

    /** The commit of a batch appending {@code message} throws {@code bug} instead (a bug, not a store failure). */
    void failCommitOf(String message, RuntimeException bug) {
        this.failCommitOf = message;
        this.commitFailure = bug;
    }

    @Override
    public CommitResult commit(Commit commit) throws StoreException {
        beforeCommit.run();
        List<Mutation> batch = commit.apply();
        Error error = commitError;
        if (error != null) {
            commitError = null;
            throw error;
        }
        if (failCommitOf != null) {
            for (Mutation m : batch) {
                if (m instanceof Mutation.AppendMessages a
                        && a.messages().stream()
                                .anyMatch(msg -> new String(msg.data(), StandardCharsets.UTF_8).equals(failCommitOf))) {
                    if (commitFailure instanceof StoreException e) {
                        throw e;
                    }
                    throw (RuntimeException) commitFailure;
                }
            }
        }
        CommitResult result = delegate.commit(commit);
        if (result instanceof CommitResult.Conflict) {
            return result;
        }
        long n = committed.incrementAndGet();
        for (Mutation m : batch) {
            if (m instanceof Mutation.AppendMessages a) {
                for (StoredMessage msg : a.messages()) {
                    commitOfMessage.put(new String(msg.data(), StandardCharsets.UTF_8), n);
                }
            }
        }
        return result;
    }

    @Override
    public void sync() throws StoreException {
        long covers = committed.get();
        beforeSync.run();
        Error error = syncError;
        if (error != null) {
            syncError = null;
            throw error;
        }
        if (failSyncs) {
            failedSyncs.incrementAndGet();
            throw new StoreException("injected fsync failure (EIO)", null, true);
        }
        delegate.sync();
        long before = durable.getAndAccumulate(covers, Math::max);
        mostCommitsPerSync.accumulateAndGet(covers - before, Math::max);
    }

    /** Housekeeping: counted, and counted apart when a commit was not yet flushed then. */
    @Override
    public boolean maintain() {
        maintained.incrementAndGet();
        if (durable.get() < committed.get()) {
            maintainedBeforeSync.incrementAndGet();
        }
        boolean more = moreHousekeeping.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
        return delegate.maintain() || more;
    }

    /** The next {@code calls} calls of {@link #maintain} say there is more to do. */
    void moreHousekeeping(int calls) {
        moreHousekeeping.set(calls);
    }

    /** Calls of {@link #maintain} so far. */
    long maintained() {
        return maintained.get();
    }

    /** Calls of {@link #maintain} made while a commit waited for its flush. */
    long maintainedBeforeSync() {
        return maintainedBeforeSync.get();
    }

    @Override
    public List<StoredMessage> read(long streamId, long from, long to, int maxBytes) throws StoreException {
        return delegate.read(streamId, from, to, maxBytes);
    }

    @Override
    public String kind() {
        return delegate.kind();
    }

    @Override
    public String describe() {
        return "recording " + delegate.describe();
    }

    @Override
    public void close() {
        delegate.close();
    }
}
