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
import dev.tether.testing.HeldWriter;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
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
    private static class SteppingBackend implements ModelBackend {
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

        void awaitVisible(int n) throws InterruptedException {
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
        List<String> types = runStored(backend, 2 + 4, engine -> {});
        assertEquals(Runs.TWO_FRAGMENT_TEXT, types);
    }

    /**
     * A tool call's item is one append with the call's first arguments: the arguments are what a
     * client waits for, and on a disk an append of the item alone made them wait for two flushes
     * in a row. The call's header comes as the upstream's chunk before its arguments.
     */
    @Test
    void aToolCallsItemIsOneAppendWithItsFirstArguments() throws Exception {
        SteppingBackend backend = new SteppingBackend() {
            @Override
            public ModelResult generate(ModelRequest request, ModelSink sink) throws InterruptedException {
                assertTrue(subscribed.await(5, TimeUnit.SECONDS));
                sink.sent(); // created, in_progress
                awaitVisible(2);
                sink.toolCall(0, "call_1", "lookup"); // output_item.added
                sink.toolArguments(0, "{\"q\":"); // function_call_arguments.delta
                awaitVisible(4);
                sink.toolArguments(0, "1}"); // function_call_arguments.delta
                awaitVisible(5);
                return new ModelResult(ModelResult.Finish.TOOL_CALLS, ModelResult.Usage.UNKNOWN);
            }
        };
        List<String> types = runStored(backend, 2 + 4, engine -> {});
        assertEquals(
                List.of(
                        "response.created",
                        "response.in_progress",
                        "response.output_item.added",
                        "response.function_call_arguments.delta",
                        "response.function_call_arguments.delta",
                        "response.function_call_arguments.done",
                        "response.output_item.done",
                        "response.completed"),
                types);
    }

    /**
     * An event offered and not flushed (a tool call's item) stays back when the append before it
     * completes: it goes out with the next step's events, not in an append of its own.
     */
    @Test
    void anEventHeldBackIsNotSentWhenTheAppendBeforeItCompletes() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<StreamEngine> engineRef = new AtomicReference<>();
        SteppingBackend backend = new SteppingBackend() {
            @Override
            public ModelResult generate(ModelRequest request, ModelSink sink) throws InterruptedException {
                assertTrue(subscribed.await(5, TimeUnit.SECONDS));
                sink.sent(); // the announcement's append, queued behind the held writer
                sink.toolCall(0, "call_1", "lookup"); // offered while that append is in flight
                release.countDown();
                awaitVisible(2);
                // The writer has run the announcement's completion in full once it has taken a
                // later append: an append that completion sent would be queued (or done) by then.
                try {
                    HeldWriter.append(engineRef.get(), "gate", "settled");
                } catch (InterruptedException e) {
                    throw e;
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
                sink.toolArguments(0, "{}");
                awaitVisible(4);
                return new ModelResult(ModelResult.Finish.TOOL_CALLS, ModelResult.Usage.UNKNOWN);
            }
        };
        // Two creates and the announcement, the item with its arguments, the end; and the gate's
        // create, the append that holds the writer and the one that shows it has moved on.
        runStored(backend, 3 + 2 + 3, engine -> {
            engineRef.set(engine);
            HeldWriter.hold(engine, "gate", release);
        });
    }

    /**
     * Runs a stored turn on {@code backend}, checks the commands the engine committed, returns the
     * turn's event types. {@code beforeTurn} runs once the response exists, before the backend starts.
     */
    private static List<String> runStored(SteppingBackend backend, int commands, EngineHook beforeTurn)
            throws Exception {
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
            beforeTurn.accept(engine);
            backend.subscribed.countDown();
            run.done().toCompletableFuture().get(5, TimeUnit.SECONDS);
        }
        // Two creates (the input record and the events stream), then one append per step:
        // the announcement, each fragment, and the end.
        assertEquals(commands, appends.get(), "commands committed");
        return types;
    }

    private interface EngineHook {
        void accept(StreamEngine engine) throws Exception;
    }
}
