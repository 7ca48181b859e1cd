package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The one bounded writer: what it hands the socket is capped, a reader that stays behind is cut
 * after the slow-consumer time, a push producer that outruns the backlog is cut at once, and a
 * reader that keeps up is never cut.
 */
class BoundedWriterTest {
    private final Vertx vertx = Vertx.vertx();
    private final Context context = vertx.getOrCreateContext();
    /** Writes handed to the "socket", each completed when the test says the socket took it. */
    private final List<Promise<Void>> pending = new ArrayList<>();

    private final AtomicInteger handed = new AtomicInteger();

    @AfterEach
    void close() {
        vertx.close();
    }

    private Future<Void> sink(Buffer piece) {
        handed.addAndGet(piece.length());
        Promise<Void> p = Promise.promise();
        pending.add(p);
        return p.future();
    }

    private <T> T onContext(java.util.function.Supplier<T> work) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        context.runOnContext(v -> result.complete(work.get()));
        return result.get(5, TimeUnit.SECONDS);
    }

    @Test
    void aPushProducerThatOutrunsTheBacklogIsCutAtOnce() throws Exception {
        CountDownLatch slow = new CountDownLatch(1);
        BoundedWriter w = onContext(() -> new BoundedWriter(
                context, this::sink, true, new BoundedWriter.Limits(1 << 20, 4 << 20, 60_000), slow::countDown));
        onContext(() -> {
            for (int i = 0; i < 4; i++) {
                w.send(Buffer.buffer(new byte[1 << 20]));
            }
            return null;
        });
        assertEquals(1, slow.getCount(), "1 MiB in flight and 3 MiB waiting are within the limits");
        assertTrue(handed.get() <= (1 << 20) + BoundedWriter.SLICE_BYTES, "the socket got at most its allowance");
        onContext(() -> {
            w.send(Buffer.buffer(new byte[2 << 20]));
            return null;
        });
        assertTrue(slow.await(1, TimeUnit.SECONDS), "a backlog over 4 MiB cuts the reader immediately");
    }

    @Test
    void aReaderThatStaysBehindIsCutAfterTheSlowConsumerTime() throws Exception {
        CountDownLatch slow = new CountDownLatch(1);
        BoundedWriter w = onContext(() -> new BoundedWriter(
                context, this::sink, false, new BoundedWriter.Limits(1000, 1 << 20, 300), slow::countDown));
        onContext(() -> {
            w.send(Buffer.buffer(new byte[800]));
            w.send(Buffer.buffer(new byte[800]));
            return null;
        });
        assertTrue(onContext(w::congested));
        assertTrue(slow.await(3, TimeUnit.SECONDS), "congested for longer than 300 ms: cut");
    }

    @Test
    void aReaderThatKeepsUpIsNeverCutAndPullProducersResumeWhenDrained() throws Exception {
        CountDownLatch slow = new CountDownLatch(1);
        BoundedWriter w = onContext(() -> new BoundedWriter(
                context, this::sink, true, new BoundedWriter.Limits(1000, 1 << 20, 300), slow::countDown));
        CountDownLatch resumed = new CountDownLatch(1);
        onContext(() -> {
            w.send(Buffer.buffer(new byte[900]));
            w.send(Buffer.buffer(new byte[900]));
            w.whenDrained(resumed::countDown);
            return null;
        });
        assertEquals(1, resumed.getCount(), "still congested: the producer waits");
        for (int round = 0; round < 5; round++) {
            Thread.sleep(100);
            onContext(() -> {
                new ArrayList<>(pending).forEach(Promise::tryComplete);
                return null;
            });
        }
        assertTrue(resumed.await(1, TimeUnit.SECONDS), "the producer resumed once the socket took its data");
        assertFalse(slow.await(500, TimeUnit.MILLISECONDS), "a reader that keeps up is not cut");
    }
}
