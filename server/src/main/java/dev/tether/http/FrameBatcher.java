package dev.tether.http;

import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Hands frames produced on other threads to a connection's event loop in batches: one hop per
 * burst instead of one per frame. A token stream emits hundreds of small events per turn, and
 * a hop each was the largest part of Tether's own latency (docs/benchmarks.md).
 *
 * <p>Thread-safe: {@link #add} from any thread; the consumer runs on the context.
 */
final class FrameBatcher {
    private final Context context;
    private final Consumer<List<Buffer>> write;
    private List<Buffer> pending = new ArrayList<>();
    private boolean scheduled;

    FrameBatcher(Context context, Consumer<List<Buffer>> write) {
        this.context = context;
        this.write = write;
    }

    void add(Buffer frame) {
        synchronized (this) {
            pending.add(frame);
            if (scheduled) {
                return;
            }
            scheduled = true;
        }
        context.runOnContext(v -> drain());
    }

    private void drain() {
        List<Buffer> batch;
        synchronized (this) {
            batch = pending;
            pending = new ArrayList<>();
            scheduled = false;
        }
        write.accept(batch);
    }
}
