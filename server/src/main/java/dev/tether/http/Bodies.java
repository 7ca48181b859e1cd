package dev.tether.http;

import dev.tether.stream.MemoryBudget;
import dev.tether.stream.WriteRejectedException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;

/**
 * Collects request bodies (fixed-length or chunked) up to a limit; larger ones get 413. While a
 * body is being received its bytes count against the {@link MemoryBudget}: a declared length is
 * reserved before the first byte is read, a chunked body as it arrives. A body that does not fit
 * gets 503 {@code memory_full} with {@code Retry-After} (finding 10 of the outside probe: 40
 * unfinished 15 MiB bodies held 821 MB). The reservation is given back when collection ends,
 * however it ends: complete, too large, refused, or the connection closed.
 *
 * <p>Stateless; each collection runs on its request's event loop.
 */
final class Bodies {
    private Bodies() {}

    /** How large one body may be, and the budget all bodies being received share. */
    record Limit(long maxBytes, MemoryBudget memory) {}

    static Future<Buffer> collect(HttpServerRequest req, Limit limit) {
        long declared = -1;
        String length = req.getHeader("Content-Length");
        if (length != null) {
            try {
                declared = Long.parseLong(length.trim());
            } catch (NumberFormatException e) {
                return Future.failedFuture(HttpError.badRequest("Content-Length is not a number"));
            }
            if (declared > limit.maxBytes()) {
                return Future.failedFuture(tooLarge(limit.maxBytes()));
            }
        }
        Reservation reserved = new Reservation(limit.memory());
        if (declared > 0 && !reserved.grow(declared)) {
            return Future.failedFuture(memoryFull(limit.memory(), declared));
        }
        boolean chunked = declared < 0;
        Promise<Buffer> promise = Promise.promise();
        // Listeners run in the order added: the bytes are given back before the caller takes the body.
        promise.future().onComplete(ar -> reserved.release());
        Buffer body = declared > 0 ? Buffer.buffer((int) declared) : Buffer.buffer();
        req.handler(chunk -> {
            if (body.length() + chunk.length() > limit.maxBytes()) {
                fail(req, promise, tooLarge(limit.maxBytes()));
            } else if (chunked && !reserved.grow(chunk.length())) {
                fail(req, promise, memoryFull(limit.memory(), body.length() + chunk.length()));
            } else {
                body.appendBuffer(chunk);
            }
        });
        req.exceptionHandler(promise::tryFail); // also when the connection closes mid-body
        req.endHandler(v -> promise.tryComplete(body));
        return promise.future();
    }

    private static void fail(HttpServerRequest req, Promise<Buffer> promise, RuntimeException failure) {
        if (promise.tryFail(failure)) {
            req.pause();
        }
    }

    private static HttpError tooLarge(long maxBytes) {
        return HttpError.of(
                413,
                "payload_too_large",
                "the body exceeds the limit of " + maxBytes
                        + " bytes per request (--max-body); split it into several appends");
    }

    private static WriteRejectedException memoryFull(MemoryBudget memory, long bytes) {
        return new WriteRejectedException(
                WriteRejectedException.Reason.MEMORY_FULL,
                "the server's memory budget (" + memory.limit() + " bytes) has no room for a " + bytes
                        + "-byte body right now; retry shortly",
                null);
    }

    /** Bytes one body holds against the budget. Confined to the request's event loop. */
    private static final class Reservation {
        private final MemoryBudget memory;
        private long bytes;
        private boolean released;

        Reservation(MemoryBudget memory) {
            this.memory = memory;
        }

        boolean grow(long more) {
            if (released || !memory.tryReserve(more)) {
                return false;
            }
            bytes += more;
            return true;
        }

        void release() {
            if (!released) {
                released = true;
                memory.release(bytes);
            }
        }
    }
}
