package dev.tether.responses;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

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
    private final Supplier<ResponseRun> run;
    private List<byte[]> pending = new ArrayList<>();
    private boolean closePending;
    private boolean inFlight;
    private int offered;

    BatchingPersister(StreamDocs docs, String path, Supplier<ResponseRun> run) {
        this.docs = docs;
        this.path = path;
        this.run = run;
    }

    @Override
    public void offer(byte[] event, boolean last) {
        List<byte[]> batch;
        boolean close;
        int upTo;
        synchronized (this) {
            pending.add(event);
            closePending |= last;
            offered++;
            if (inFlight) {
                return;
            }
            inFlight = true;
            batch = pending;
            close = closePending;
            upTo = offered;
            pending = new ArrayList<>();
            closePending = false;
        }
        send(batch, close, upTo);
    }

    private void send(List<byte[]> batch, boolean close, int upTo) {
        docs.append(path, batch, close).whenComplete((ok, failure) -> {
            if (failure != null) {
                run.get()
                        .storageFailed(String.valueOf(
                                failure.getCause() != null ? failure.getCause().getMessage() : failure));
            } else {
                run.get().durable(upTo);
            }
            List<byte[]> next;
            boolean nextClose;
            int nextUpTo;
            synchronized (this) {
                if (pending.isEmpty()) {
                    inFlight = false;
                    return;
                }
                next = pending;
                nextClose = closePending;
                nextUpTo = offered;
                pending = new ArrayList<>();
                closePending = false;
            }
            send(next, nextClose, nextUpTo);
        });
    }
}
