package dev.tether.client;

import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/**
 * An idempotent producer for one durable stream (Durable Streams' {@code Producer-Id}, {@code
 * Producer-Epoch}, {@code Producer-Seq}): each append gets the next sequence number and is
 * retried with the same one after a network error or a 5xx, so a retry of an append the server
 * already took is answered 204 and written once. A gap (409) or a newer epoch elsewhere (403)
 * stops the producer with a {@link TetherException}.
 *
 * <p>Thread-safe: appends are sent one at a time, in order.
 */
public final class StreamProducer {
    static final int ATTEMPTS = 8;

    private final TetherClient client;
    private final String path;
    private final String producerId;
    private final long epoch;
    private long nextSeq;

    StreamProducer(TetherClient client, String path, String producerId, long epoch) {
        this.client = client;
        this.path = path.startsWith("/") ? path.substring(1) : path;
        this.producerId = producerId;
        this.epoch = epoch;
    }

    /** The sequence number the next append gets (epochs start at 0). */
    public synchronized long nextSeq() {
        return nextSeq;
    }

    /**
     * Continues from sequence number {@code seq}: a producer restarted with state it kept (or the
     * {@code Producer-Seq} the server last acknowledged, plus one).
     */
    public synchronized StreamProducer resumeAt(long seq) {
        nextSeq = seq;
        return this;
    }

    /** Appends one JSON value (or array of values) durably and exactly once; returns true if it was new. */
    public synchronized boolean append(String json) {
        long seq = nextSeq;
        RuntimeException last = null;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            if (attempt > 0) {
                sleep(Math.min(2_000, 50L << attempt));
            }
            HttpResponse<String> r;
            try {
                r = client.send(client.request("/v1/stream/" + path)
                        .header("Content-Type", "application/json")
                        .header("Producer-Id", producerId)
                        .header("Producer-Epoch", Long.toString(epoch))
                        .header("Producer-Seq", Long.toString(seq))
                        .POST(HttpRequest.BodyPublishers.ofString(json))
                        .build());
            } catch (UncheckedIOException e) {
                last = e; // the server may or may not have it: the same seq again is safe
                continue;
            }
            int status = r.statusCode();
            if (status == 200 || status == 204) {
                nextSeq = seq + 1;
                return status == 200;
            }
            last = TetherClient.error(status, r.body());
            if (status < 500 && status != 429) {
                throw (TetherException) last;
            }
        }
        throw last;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TetherException(0, "interrupted", "interrupted while retrying an append");
        }
    }
}
