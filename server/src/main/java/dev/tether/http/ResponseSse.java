package dev.tether.http;

import dev.tether.responses.ResponseListener;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.nio.charset.StandardCharsets;

/**
 * Writes a response's events as Server-Sent Events ({@code event: type}, {@code data: json}).
 * Events arrive on engine or generating threads and are written on the connection's event
 * loop. A client that goes away only unsubscribes: generation continues and the client may
 * resume with {@code starting_after}.
 *
 * <p>Thread-safe: all writes happen on the connection's context.
 */
final class ResponseSse implements ResponseListener {
    private static final byte[] EVENT = "event: ".getBytes(StandardCharsets.UTF_8);
    private static final byte[] DATA = "\ndata: ".getBytes(StandardCharsets.UTF_8);
    private static final byte[] END = "\n\n".getBytes(StandardCharsets.UTF_8);

    private final HttpServerResponse res;
    private final FrameBatcher frames;

    ResponseSse(HttpServerResponse res, Context context) {
        this.res = res;
        this.frames = new FrameBatcher(context, this::write);
    }

    /** One write per batch; an empty buffer marks the end. */
    private void write(java.util.List<Buffer> batch) {
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
        if (end) {
            res.end(all);
        } else {
            res.write(all);
        }
    }

    /** Sends the headers; events may follow. */
    void open() {
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
