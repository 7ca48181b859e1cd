package dev.tether.responses;

import dev.tether.stream.StreamDocs;
import java.util.ArrayList;
import java.util.List;

/**
 * Appends a run's events to its stream with at most one append in flight: events emitted while
 * one is being committed go out together in the next append. Appends therefore complete in
 * order, and a fast token stream costs few transactions.
 *
 * <p>Thread-safe.
 */
final class BatchingPersister implements ResponseRun.Persister {
    private final StreamDocs docs;
    private final String path;
    private final ResponseRun run;
    private List<byte[]> pending = new ArrayList<>();
    private boolean closePending;
    private boolean inFlight;
    private int offered;

    BatchingPersister(StreamDocs docs, String path, ResponseRun run) {
        this.docs = docs;
        this.path = path;
        this.run = run;
    }

    @Override
    public void offer(byte[] event, boolean last) {
        Batch batch;
        synchronized (this) {
            pending.add(event);
            closePending |= last;
            offered++;
            if (inFlight) {
                return;
            }
            batch = take();
        }
        send(batch);
    }

    /** Takes what is pending as the next append; null (and idle) when nothing is. Under the lock. */
    private Batch take() {
        if (pending.isEmpty()) {
            inFlight = false;
            return null;
        }
        inFlight = true;
        Batch batch = new Batch(pending, closePending, offered);
        pending = new ArrayList<>();
        closePending = false;
        return batch;
    }

    private void send(Batch batch) {
        docs.append(path, batch.events, batch.close).whenComplete((ok, failure) -> {
            if (failure != null) {
                Throwable cause = failure.getCause() != null ? failure.getCause() : failure;
                run.storageFailed(String.valueOf(cause.getMessage()));
            } else {
                run.durable(batch.upTo);
            }
            Batch next;
            synchronized (this) {
                next = take();
            }
            if (next != null) {
                send(next);
            }
        });
    }

    /** One append: events, whether it closes the stream, and the event count it makes durable. */
    private record Batch(List<byte[]> events, boolean close, int upTo) {}
}
