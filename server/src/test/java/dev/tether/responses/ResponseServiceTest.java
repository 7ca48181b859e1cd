package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelResult;
import dev.tether.metrics.Metrics;
import dev.tether.store.memory.MemoryStreamStore;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import java.time.InstantSource;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ResponseServiceTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aClientThatSeesTheEndCanContinueAtOnce() throws Exception {
        CountDownLatch subscribed = new CountDownLatch(1);
        ModelBackend backend = new ModelBackend() {
            @Override
            public ModelResult generate(dev.tether.inference.ModelRequest request, dev.tether.inference.ModelSink sink)
                    throws InterruptedException {
                subscribed.await();
                sink.text("ok");
                return new ModelResult(ModelResult.Finish.STOP, ModelResult.Usage.UNKNOWN);
            }

            @Override
            public String describe() {
                return "test";
            }
        };
        try (StreamEngine engine =
                        new StreamEngine(new MemoryStreamStore(), InstantSource.system(), EngineSettings.defaults());
                ResponseService service = new ResponseService(
                        engine, backend, InstantSource.system(), ResponseSettings.defaults(), new Metrics())) {
            ResponseRun first = service.create(
                            ParamsParser.parse(JSON.readTree("{\"model\":\"m\",\"input\":\"a\"}")), null, "anonymous")
                    .toCompletableFuture()
                    .get(5, TimeUnit.SECONDS);
            CompletableFuture<String> next = new CompletableFuture<>();
            first.subscribe(-1, new ResponseListener() {
                @Override
                public void onEvent(int sequence, String type, byte[] json) {}

                @Override
                public void onEnd() {
                    // the fastest possible client: it continues while the end is being delivered
                    try {
                        service.create(
                                        ParamsParser.parse(JSON.readTree("{\"model\":\"m\",\"input\":\"b\","
                                                + "\"previous_response_id\":\"" + first.id() + "\"}")),
                                        null,
                                        "anonymous")
                                .whenComplete((run, e) -> next.complete(e == null ? "started" : e.toString()));
                    } catch (Exception e) {
                        next.complete(e.toString());
                    }
                }
            });
            subscribed.countDown();
            assertEquals("started", next.get(5, TimeUnit.SECONDS));
        }
    }
}
