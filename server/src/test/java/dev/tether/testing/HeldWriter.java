package dev.tether.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.stream.AppendRequest;
import dev.tether.stream.CreateRequest;
import dev.tether.stream.Lookup;
import dev.tether.stream.StreamEngine;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Holds an engine's writer thread until a latch opens, so that a test can queue writes behind it
 * and act between a write's answer and what follows it. The writer is held inside the wake-up of a
 * stream of the test's own (made here), after it has answered that stream's append.
 */
public final class HeldWriter {
    private HeldWriter() {}

    /** Returns once the writer is held; it goes on when {@code release} opens (10 s at most). */
    public static void hold(StreamEngine engine, String path, CountDownLatch release) throws Exception {
        engine.create(new CreateRequest(path, "text/plain", null, null, false, List.of(), null))
                .toCompletableFuture()
                .get(10, TimeUnit.SECONDS);
        CountDownLatch held = new CountDownLatch(1);
        var stream = ((Lookup.Found) engine.lookup(path)).stream();
        engine.watch(stream, stream.tail(), blocking(held, release));
        append(engine, path, "hold");
        assertTrue(held.await(10, TimeUnit.SECONDS), "the writer is held");
    }

    /** A wake-up that holds the thread running it: it opens {@code held}, then waits for {@code release} (10 s at most). */
    public static Runnable blocking(CountDownLatch held, CountDownLatch release) {
        return () -> {
            held.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }

    /** Appends {@code text} to {@code path} and waits for the answer. */
    public static void append(StreamEngine engine, String path, String text) throws Exception {
        engine.append(new AppendRequest(
                        path, "text/plain", List.of(text.getBytes(StandardCharsets.UTF_8)), false, null, null))
                .toCompletableFuture()
                .get(10, TimeUnit.SECONDS);
    }
}
