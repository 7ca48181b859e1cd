package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.auth.Principal;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.metrics.Metrics;
import dev.tether.store.memory.MemoryStreamStore;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import java.time.Duration;
import java.time.InstantSource;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The bound: closing a Responses WebSocket cancels its queued requests that have not started. */
class SocketSessionTest {

    @Test
    void closingTheConnectionDropsQueuedRequestsButLetsTheRunningOneFinish() throws Exception {
        AtomicInteger started = new AtomicInteger();
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch running = new CountDownLatch(1);
        ModelBackend backend = new ModelBackend() {
            @Override
            public ModelResult generate(ModelRequest request, ModelSink sink) throws InterruptedException {
                started.incrementAndGet();
                running.countDown();
                release.await();
                sink.text("done");
                return new ModelResult(ModelResult.Finish.STOP, ModelResult.Usage.UNKNOWN);
            }

            @Override
            public String describe() {
                return "blocking";
            }
        };
        AtomicInteger completed = new AtomicInteger();
        try (StreamEngine engine =
                        new StreamEngine(new MemoryStreamStore(), InstantSource.system(), EngineSettings.defaults());
                ResponseService service = new ResponseService(
                        engine, backend, InstantSource.system(), ResponseSettings.defaults(), new Metrics())) {
            SocketSession session = new SocketSession(
                    service,
                    new SocketSession.Frames() {
                        @Override
                        public void send(byte[] json) {
                            if (new String(json, java.nio.charset.StandardCharsets.UTF_8)
                                    .contains("\"response.completed\"")) {
                                completed.incrementAndGet();
                            }
                        }

                        @Override
                        public void error(String streamId, Throwable failure) {}

                        @Override
                        public void steerFailed(String streamId, String responseId, Throwable failure) {}
                    },
                    InstantSource.system(),
                    Duration.ofMinutes(1),
                    Runnable::run,
                    Principal.ANONYMOUS);
            for (int i = 0; i < 10; i++) {
                session.onText(
                        "{\"type\":\"response.create\",\"model\":\"m\",\"store\":false,\"input\":\"" + i + "\"}");
            }
            assertTrue(running.await(5, TimeUnit.SECONDS), "the first request runs");
            assertEquals(9, session.queued(), "one lane: the other nine wait behind it");
            session.close();
            assertEquals(0, session.queued(), "closing drops what has not started");
            release.countDown();
            for (int i = 0; i < 50 && completed.get() == 0; i++) {
                Thread.sleep(50);
            }
            assertEquals(1, completed.get(), "the running response finished (a disconnect is not a cancel)");
            Thread.sleep(300);
            assertEquals(1, started.get(), "no queued request started after the close");
        }
    }
}
