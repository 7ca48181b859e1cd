package dev.tether.responses;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.inference.ModelBackend;
import dev.tether.metrics.Metrics;
import dev.tether.store.memory.MemoryStreamStore;
import dev.tether.stream.EngineObserver;
import dev.tether.stream.EngineSettings;
import dev.tether.stream.StreamEngine;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/** For tests of a run itself: a service over an in-memory engine, a run started on it, its events watched. */
final class Runs {
    static final ObjectMapper JSON = new ObjectMapper();

    /** The event types of a turn that answers text in two fragments, in order. */
    static final List<String> TWO_FRAGMENT_TEXT = List.of(
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed");

    private Runs() {}

    static StreamEngine memoryEngine(EngineObserver observer) throws Exception {
        return new StreamEngine(new MemoryStreamStore(), InstantSource.system(), EngineSettings.defaults(), observer);
    }

    static ResponseService service(StreamEngine engine, ModelBackend backend, Metrics metrics) {
        return new ResponseService(engine, backend, InstantSource.system(), ResponseSettings.defaults(), metrics);
    }

    /** Starts a response of {@code request} (a create request's JSON) for the open mode's principal. */
    static ResponseRun start(ResponseService service, String request) throws Exception {
        return service.create(ParamsParser.parse(JSON.readTree(request)), null, "anonymous")
                .toCompletableFuture()
                .get(5, TimeUnit.SECONDS);
    }

    /** Hands each of the run's events, from its first, to {@code onEvent} with its type. */
    static void watch(ResponseRun run, BiConsumer<String, byte[]> onEvent) {
        run.subscribe(-1, new ResponseListener() {
            @Override
            public void onEvent(int sequence, String type, byte[] json) {
                onEvent.accept(type, json);
            }

            @Override
            public void onEnd() {}
        });
    }
}
