package dev.tether.http;

import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.stream.MemoryBudget;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;

/**
 * Collects request bodies (fixed-length or chunked) up to a limit; larger ones get 413. While a
 * body is being received it counts against the {@link MemoryBudget}: a declared length is
 * reserved before the first byte is read, a chunked body as it arrives. A body that does not fit
 * gets 503 {@code memory_full} with {@code Retry-After} (finding 10 of the outside probe: 40
 * unfinished 15 MiB bodies held 821 MB).
 *
 * <p>A body counts twice its size: its buffer, and the copy its handler makes when it hands the
 * data to the engine (which counts that copy from then on). When collection completes, half is
 * given back at once, to make room for the engine's count of the copy, and the other half one
 * event-loop turn later, once the handler is done with the buffer; so the budget sees the two
 * copies that briefly exist. However collection ends (too large, refused, the connection
 * closed), the reservation is given back.
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
                return Future.failedFuture(Refusal.invalid("Content-Length is not a number"));
            }
            if (declared > limit.maxBytes()) {
                return Future.failedFuture(tooLarge(limit.maxBytes()));
            }
        }
        if (2 * declared > limit.memory().limit()) {
            return Future.failedFuture(neverFits(limit.memory()));
        }
        Reservation reserved = new Reservation(limit.memory());
        if (declared > 0 && !reserved.grow(2 * declared)) {
            return Future.failedFuture(limit.memory().full("a body", declared));
        }
        boolean chunked = declared < 0;
        Promise<Buffer> promise = Promise.promise();
        // Listeners run in the order added: this one before the caller's, in the same turn.
        promise.future().onComplete(ar -> {
            if (ar.succeeded()) {
                reserved.releaseHalf();
                Vertx.currentContext().runOnContext(v -> reserved.release());
            } else {
                reserved.release();
            }
        });
        Buffer body = declared > 0 ? Buffer.buffer((int) declared) : Buffer.buffer();
        req.handler(chunk -> {
            if (body.length() + chunk.length() > limit.maxBytes()) {
                fail(req, promise, tooLarge(limit.maxBytes()));
            } else if (chunked
                    && 2L * (body.length() + chunk.length()) > limit.memory().limit()) {
                fail(req, promise, neverFits(limit.memory()));
            } else if (chunked && !reserved.grow(2L * chunk.length())) {
                fail(req, promise, limit.memory().full("a body", body.length() + chunk.length()));
            } else {
                body.appendBuffer(chunk);
            }
        });
        // Also when the connection closes mid-body. A body the decoder cannot read (a chunk size
        // of "zz") is the client's fault, not a bug.
        req.exceptionHandler(t -> promise.tryFail(
                t instanceof io.vertx.core.http.HttpClosedException
                        ? t
                        : Refusal.invalid("the request body could not be read (malformed chunked encoding?)")));
        req.endHandler(v -> promise.tryComplete(body));
        return promise.future();
    }

    private static void fail(HttpServerRequest req, Promise<Buffer> promise, RuntimeException failure) {
        if (promise.tryFail(failure)) {
            req.pause();
        }
    }

    /** Retrying cannot help a body the whole budget could not hold (it counts twice): 413, not 503. */
    private static Refusal neverFits(MemoryBudget memory) {
        return Refusal.of(
                Condition.TOO_LARGE,
                "payload_too_large",
                "the body is larger than half the server's memory budget (" + memory.limit()
                        + " bytes, --max-memory) and can never be taken; split it into several appends");
    }

    private static Refusal tooLarge(long maxBytes) {
        return Refusal.of(
                Condition.TOO_LARGE,
                "payload_too_large",
                "the body exceeds the limit of " + maxBytes
                        + " bytes per request (--max-body); split it into several appends");
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

        void releaseHalf() {
            long half = bytes / 2;
            bytes -= half;
            memory.release(half);
        }

        void release() {
            if (!released) {
                released = true;
                memory.release(bytes);
            }
        }
    }
}
