package dev.tether.stream;

import dev.tether.store.StoreException;
import java.time.InstantSource;

/**
 * The writer's {@link StorageHealth} and, once it has failed for good, the refusal every later
 * write gets: immediately, never by waiting on a thread that will not answer.
 *
 * <p>Thread-safe: changed by the writer thread (and by a submitter that finds it dead), read by
 * anyone.
 */
final class WriterHealth {
    private static final System.Logger LOG = System.getLogger(WriterHealth.class.getName());

    private final InstantSource clock;
    private volatile StorageHealth current;
    private volatile WriteRejectedException refusal;

    WriterHealth(InstantSource clock) {
        this.clock = clock;
        this.current = new StorageHealth(StorageHealth.State.WRITABLE, "ok", clock.millis());
    }

    StorageHealth current() {
        return current;
    }

    /** Non-null once writes are refused until a restart. */
    WriteRejectedException refusal() {
        return refusal;
    }

    /** A commit went through: an unavailable store is writable again (a failed one stays failed). */
    synchronized void committed() {
        if (current.state() == StorageHealth.State.UNAVAILABLE) {
            current = new StorageHealth(StorageHealth.State.WRITABLE, "ok", clock.millis());
            LOG.log(System.Logger.Level.INFO, "storage is writable again");
        }
    }

    synchronized void unavailable(StoreException e) {
        if (current.state() == StorageHealth.State.FAILED) {
            return;
        }
        if (current.state() == StorageHealth.State.WRITABLE) {
            LOG.log(
                    System.Logger.Level.ERROR,
                    "storage unavailable, appends will fail until it recovers: " + e.getMessage());
        }
        current = new StorageHealth(StorageHealth.State.UNAVAILABLE, e.getMessage(), clock.millis());
    }

    /** From now on every write is refused with a message saying why and that a restart is needed. */
    synchronized void fail(String why, Throwable cause) {
        if (refusal != null) {
            return;
        }
        String detail = why + "; writes are refused until the server restarts";
        LOG.log(System.Logger.Level.ERROR, detail, cause);
        refusal = new WriteRejectedException(
                WriteRejectedException.Reason.STORAGE_UNAVAILABLE, "storage unavailable: " + detail, cause);
        current = new StorageHealth(StorageHealth.State.FAILED, detail, clock.millis());
    }
}
