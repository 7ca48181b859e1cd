package dev.tether.inference.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.http.EventLoops;
import dev.tether.http.UpstreamClient;
import dev.tether.inference.ChatMessage;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.metrics.Metrics;
import dev.tether.testing.ScriptedUpstream;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The upstream backend on the real transport, against a scripted upstream. */
class UpstreamBackendTest {
    private ScriptedUpstream upstream;
    private EventLoops loops;
    private UpstreamBackend backend;

    @BeforeEach
    void start() throws Exception {
        upstream = ScriptedUpstream.start();
        UpstreamSettings settings = settings();
        loops = EventLoops.start(1);
        backend = new UpstreamBackend(settings, UpstreamClient.create(loops, settings.connectTimeout()), null);
    }

    @AfterEach
    void stop() {
        backend.close();
        loops.close();
        upstream.close();
    }

    private static ModelRequest request() {
        return new ModelRequest(
                "m",
                "s",
                false,
                List.of(new ChatMessage.User("hi")),
                List.of(),
                null,
                null,
                null,
                null,
                null,
                null,
                null);
    }

    /** Records each fragment with the thread it came on. */
    private static final class Recorder implements ModelSink {
        final List<String> texts = new CopyOnWriteArrayList<>();
        final List<Thread> threads = new CopyOnWriteArrayList<>();

        @Override
        public void text(String delta) {
            texts.add(delta);
            threads.add(Thread.currentThread());
        }

        @Override
        public void toolCall(int index, String callId, String name) {
            texts.add("call:" + name);
        }

        @Override
        public void toolArguments(int index, String delta) {
            texts.add("args:" + delta);
        }

        @Override
        public void answered(ModelResult result) {
            texts.add("answered:" + result.finish());
            threads.add(Thread.currentThread());
        }
    }

    @Test
    void fragmentsReachTheSinkFromTheTransportNotThroughTheGeneratingThread() throws Exception {
        upstream.then(ScriptedUpstream.text("one ", "two ", "three"));
        Recorder sink = new Recorder();
        CompletableFuture<Thread> generating = new CompletableFuture<>();
        CompletableFuture<ModelResult> result = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            generating.complete(Thread.currentThread());
            try {
                result.complete(backend.generate(request(), sink));
            } catch (Exception e) {
                result.completeExceptionally(e);
            }
        });
        assertEquals(ModelResult.Finish.STOP, result.get(10, TimeUnit.SECONDS).finish());
        assertEquals(
                List.of("one ", "two ", "three", "answered:STOP"),
                sink.texts,
                "the answer's end is told where it arrives, after its last fragment");
        assertFalse(
                sink.threads.contains(generating.get()),
                "a fragment or the end was handed to the generating thread before the sink");
        assertTrue(sink.threads.stream().allMatch(t -> t == sink.threads.getFirst()));
    }

    @Test
    void anInterruptEndsAStreamThatStalledAndNothingReachesTheSinkAfterwards() throws Exception {
        CountDownLatch start = new CountDownLatch(0);
        CountDownLatch rest = new CountDownLatch(1);
        upstream.then(new ScriptedUpstream.GatedCall(start, rest, "call_1", "f", List.of("{\"a\"", ":1}")));
        Recorder sink = new Recorder();
        CompletableFuture<Object> outcome = new CompletableFuture<>();
        Thread worker = Thread.ofVirtual().start(() -> {
            try {
                outcome.complete(backend.generate(request(), sink));
            } catch (Exception e) {
                outcome.complete(e);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (sink.texts.size() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(List.of("call:f", "args:{\"a\""), sink.texts);
        worker.interrupt();
        assertInstanceOf(InterruptedException.class, outcome.get(5, TimeUnit.SECONDS));
        rest.countDown(); // the upstream sends the rest of the answer now
        Thread.sleep(500);
        assertEquals(List.of("call:f", "args:{\"a\""), sink.texts, "a fragment reached the sink after generate ended");
    }

    /** The real transport, but its first sends fail as {@code failures} says. */
    private static final class Failing implements UpstreamTransport {
        final UpstreamTransport real;
        final Deque<IOException> failures;
        final AtomicInteger sends = new AtomicInteger();

        Failing(UpstreamTransport real, List<IOException> failures) {
            this.real = real;
            this.failures = new ConcurrentLinkedDeque<>(failures);
        }

        @Override
        public Answer send(
                URI uri,
                Map<String, String> headers,
                byte[] body,
                Duration headTimeout,
                Runnable meanwhile,
                Consumer<Answer> atHead)
                throws IOException, InterruptedException {
            sends.incrementAndGet();
            IOException failure = failures.poll();
            if (failure != null) {
                throw failure;
            }
            return real.send(uri, headers, body, headTimeout, meanwhile, atHead);
        }

        @Override
        public void close() {
            real.close();
        }
    }

    /** The scripted upstream as the one replica, with short timeouts. */
    private UpstreamSettings settings() {
        return new UpstreamSettings(
                List.of(URI.create(upstream.url())),
                Duration.ofSeconds(5),
                Duration.ofSeconds(10),
                Duration.ofSeconds(10),
                null,
                null);
    }

    private ModelResult generateOn(Failing transport, Metrics metrics) throws Exception {
        try (UpstreamBackend failing = new UpstreamBackend(settings(), transport, metrics)) {
            return failing.generate(request(), new Recorder());
        }
    }

    private static IOException stale() {
        return new UpstreamTransport.Stale("a held connection closed before any answer", null);
    }

    /**
     * A request that met a held connection closing under it goes out again at once, without using
     * one of the turn's attempts: one replica has two, and here the request after the stale one
     * fails too, yet the turn is answered by a third.
     */
    @Test
    void aStaleConnectionIsAskedAgainWithoutUsingAnAttempt() throws Exception {
        upstream.then(ScriptedUpstream.text("ok"));
        Failing transport = new Failing(
                UpstreamClient.create(loops, Duration.ofSeconds(5)),
                List.of(stale(), new IOException("connection refused")));
        Metrics metrics = new Metrics();
        assertEquals(ModelResult.Finish.STOP, generateOn(transport, metrics).finish());
        assertEquals(3, transport.sends.get());
        String scraped = metrics.scrape();
        assertTrue(
                scraped.lines()
                        .anyMatch(
                                l -> l.startsWith("tether_upstream_errors_total{kind=\"stale\"") && l.endsWith(" 1.0")),
                "the stale request is counted as such: " + scraped);
    }

    /** Once a turn: an upstream whose connections keep closing under requests gets no more than one extra. */
    @Test
    void onlyOneStaleRequestATurnIsAskedAgainForFree() {
        Failing transport = new Failing(
                UpstreamClient.create(loops, Duration.ofSeconds(5)), List.of(stale(), stale(), stale(), stale()));
        assertThrows(ModelException.class, () -> generateOn(transport, null));
        assertEquals(3, transport.sends.get(), "two attempts and one stale request sent again");
    }

    /** The upstream's model list is asked for once more after a stale request, at once. */
    @Test
    void aStaleModelsRequestIsAskedAgain() throws Exception {
        Failing transport = new Failing(UpstreamClient.create(loops, Duration.ofSeconds(5)), List.of(stale()));
        try (UpstreamBackend failing = new UpstreamBackend(settings(), transport, null)) {
            assertEquals(
                    List.of("scripted-1"),
                    failing.models().stream().map(m -> m.id()).toList());
        }
        assertEquals(2, transport.sends.get());
    }
}
