package dev.tether.responses;

import dev.tether.stream.StreamDocs;
import java.util.ArrayList;
import java.util.List;

/**
 * Appends a run's events to its stream with at most one append in flight. The events one step of
 * the run emits (a fragment's item, part and delta; an end's closing events) are offered, then
 * flushed together; events flushed while an append is being committed go out together in the next
 * one. Appends therefore complete in order, a fast token stream costs few transactions, and no
 * event waits for the durability of another event of its own step. Events offered and not yet
 * flushed wait for the next flush, even when an append completes meanwhile: the run holds them
 * back on purpose (a tool call's item waits for the call's first arguments).
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
    /** A flush came while an append was in flight: what is pending goes out when it completes. */
    private boolean flushDue;

    private int offered;

    BatchingPersister(StreamDocs docs, String path, ResponseRun run) {
        this.docs = docs;
        this.path = path;
        this.run = run;
    }

    @Override
    public synchronized void offer(byte[] event, boolean last) {
        pending.add(event);
        closePending |= last;
        offered++;
    }

    @Override
    public void flush() {
        Batch batch;
        synchronized (this) {
            if (inFlight) {
                flushDue = true; // sent when the append in flight completes
                return;
            }
            batch = take();
        }
        if (batch != null) {
            send(batch);
        }
    }

    /** Takes what is pending as the next append; null (and idle) when nothing is. Under the lock. */
    private Batch take() {
        flushDue = false;
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
                if (flushDue) {
                    next = take();
                } else {
                    next = null;
                    inFlight = false;
                }
            }
            if (next != null) {
                send(next);
            }
        });
    }

    /** One append: events, whether it closes the stream, and the event count it makes durable. */
    private record Batch(List<byte[]> events, boolean close, int upTo) {}
}
