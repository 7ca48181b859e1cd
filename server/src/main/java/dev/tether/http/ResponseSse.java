package dev.tether.http;

import dev.tether.responses.ResponseListener;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Writes a response's events as Server-Sent Events ({@code event: type}, {@code data: json}).
 * Events arrive on engine or generating threads and are written on the connection's event loop
 * through the {@link BoundedWriter}: a client that stops reading is disconnected once it stays
 * behind for the slow-consumer timeout (or falls a whole backlog behind) and resumes with {@code
 * starting_after}. A client that goes away only unsubscribes: generation continues.
 *
 * <p>Thread-safe: {@link #onEvent} and {@link #onEnd} from any thread; writes on the connection's context.
 */
final class ResponseSse implements ResponseListener {
    private static final byte[] EVENT = "event: ".getBytes(StandardCharsets.UTF_8);
    private static final byte[] DATA = "\ndata: ".getBytes(StandardCharsets.UTF_8);
    private static final byte[] END = "\n\n".getBytes(StandardCharsets.UTF_8);

    private final HttpServerResponse res;
    private final FrameBatcher frames;
    private final BoundedWriter writer;
    private final HttpMetrics metrics = HttpMetrics.current();
    private Runnable counted = () -> {};

    ResponseSse(HttpServerResponse res, Context context, long slowConsumerMillis) {
        this.res = res;
        this.frames = new FrameBatcher(context, this::write);
        this.writer = new BoundedWriter(
                context, res::write, true, BoundedWriter.Limits.defaults(slowConsumerMillis), this::tooSlow);
    }

    /** Too slow: cut the connection; the client resumes from its last sequence number. */
    private void tooSlow() {
        metrics.slowReader("responses_sse");
        counted.run();
        res.reset();
    }

    /** One write per batch; an empty buffer marks the end. */
    private void write(List<Buffer> batch) {
        if (res.closed() || res.ended()) {
            return;
        }
        Buffer all = Buffer.buffer();
        boolean end = false;
        for (Buffer b : batch) {
            if (b.length() == 0) {
                end = true;
                break;
            }
            all.appendBuffer(b);
        }
        if (all.length() > 0) {
            writer.send(all);
        }
        if (end) {
            writer.whenDrained(() -> {
                writer.close();
                counted.run();
                if (!res.ended() && !res.closed()) {
                    res.end();
                }
            });
        }
    }

    /** Sends the headers; events may follow. {@code onClose} runs when the client goes away. */
    void open(Runnable onClose) {
        counted = metrics.opened(false);
        res.closeHandler(v -> {
            counted.run();
            writer.close();
            onClose.run();
        });
        ProtocolHeaders.security(res);
        res.setStatusCode(200)
                .setChunked(true)
                .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                .putHeader("Cache-Control", "no-cache");
        res.writeHead();
    }

    @Override
    public void onEvent(int sequence, String type, byte[] json) {
        Buffer frame = Buffer.buffer(json.length + type.length() + 20)
                .appendBytes(EVENT)
                .appendString(type)
                .appendBytes(DATA)
                .appendBytes(json)
                .appendBytes(END);
        frames.add(frame);
    }

    @Override
    public void onEnd() {
        frames.add(Buffer.buffer());
    }
}
