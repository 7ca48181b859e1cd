package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.metrics.Metrics;
import dev.tether.stream.EngineObserver;
import dev.tether.stream.StreamEngine;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A stored run makes the events of one step durable in one append: the announcement's two, a
 * first fragment's item, part and delta, an end's closing events and terminal event. A step's
 * delta must not wait for the durability of its own item first (on a disk that is one more
 * flush, plus the hand-offs to the writer and back, before the client sees the first token).
 */
class StepAppendsTest {
    /**
     * Steps through a turn, waiting after each step until its events are visible (durable), so
     * that no step's events can join an append in flight for the step before.
     */
    private static final class SteppingBackend implements ModelBackend {
        final CountDownLatch subscribed = new CountDownLatch(1);
        final AtomicInteger visible = new AtomicInteger();

        @Override
        public ModelResult generate(ModelRequest request, ModelSink sink) throws InterruptedException {
            assertTrue(subscribed.await(5, TimeUnit.SECONDS));
            sink.sent(); // created, in_progress
            awaitVisible(2);
            sink.text("hi"); // output_item.added, content_part.added, output_text.delta
            awaitVisible(5);
            sink.text(" there"); // output_text.delta
            awaitVisible(6);
            return new ModelResult(ModelResult.Finish.STOP, ModelResult.Usage.UNKNOWN);
        }

        private void awaitVisible(int n) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (visible.get() < n) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("events not visible: " + visible.get() + " of " + n);
                }
                Thread.sleep(1);
            }
        }

        @Override
        public boolean reportsSent() {
            return true;
        }

        @Override
        public String describe() {
            return "stepping";
        }
    }

    @Test
    void eachStepOfAStoredRunIsOneAppend() throws Exception {
        SteppingBackend backend = new SteppingBackend();
        AtomicInteger appends = new AtomicInteger();
        EngineObserver counting = new EngineObserver() {
            @Override
            public void committed(int commands) {
                appends.addAndGet(commands);
            }
        };
        List<String> types = new CopyOnWriteArrayList<>();
        try (StreamEngine engine = Runs.memoryEngine(counting);
                ResponseService service = Runs.service(engine, backend, new Metrics())) {
            ResponseRun run = Runs.start(service, "{\"model\":\"m\",\"input\":\"a\",\"store\":true}");
            Runs.watch(run, (type, json) -> {
                types.add(type);
                backend.visible.incrementAndGet();
            });
            backend.subscribed.countDown();
            run.done().toCompletableFuture().get(5, TimeUnit.SECONDS);
        }
        assertEquals(Runs.TWO_FRAGMENT_TEXT, types);
        // Two creates (the input record and the events stream), then one append per step:
        // the announcement, each fragment, and the end.
        assertEquals(2 + 4, appends.get(), "commands committed");
    }
}
