package dev.tether.http;

import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;

/** Collects request bodies (fixed-length or chunked) up to a limit; larger ones get 413. */
final class Bodies {
    private Bodies() {}

    static Future<Buffer> collect(HttpServerRequest req, long maxBytes) {
        String length = req.getHeader("Content-Length");
        if (length != null) {
            try {
                if (Long.parseLong(length.trim()) > maxBytes) {
                    return Future.failedFuture(tooLarge(maxBytes));
                }
            } catch (NumberFormatException e) {
                return Future.failedFuture(HttpError.badRequest("Content-Length is not a number"));
            }
        }
        Promise<Buffer> promise = Promise.promise();
        Buffer body = Buffer.buffer();
        req.handler(chunk -> {
            if (body.length() + chunk.length() > maxBytes) {
                if (promise.tryFail(tooLarge(maxBytes))) {
                    req.pause();
                }
                return;
            }
            body.appendBuffer(chunk);
        });
        // A body the decoder cannot read (a chunk size of "zz") is the client's fault, not a bug.
        req.exceptionHandler(t -> promise.tryFail(
                t instanceof io.vertx.core.http.HttpClosedException
                        ? t
                        : Refusal.invalid("the request body could not be read (malformed chunked encoding?)")));
        req.endHandler(v -> promise.tryComplete(body));
        return promise.future();
    }

    private static Refusal tooLarge(long maxBytes) {
        return HttpError.of(
                Condition.TOO_LARGE,
                "payload_too_large",
                "the body exceeds the limit of " + maxBytes
                        + " bytes per request (--max-body); split it into several appends");
    }
}
