package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.metrics.Metrics;
import dev.tether.stream.EngineObserver;
import dev.tether.stream.StreamEngine;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A run's events echo the request's {@code instructions} and {@code tools} from JSON written once
 * per run ({@link ResponseJson.Echo}): byte for byte what rendering them in each event wrote.
 */
class ResponseEchoTest {
    /** Quotes, backslashes, line ends, a control character, non-ASCII and a surrogate pair. */
    private static final String AWKWARD =
            "Say \\\"hi\\\"\\n\\tthen stop.\\u0001 Grüße, 東京 \\uD83D\\uDE00 \\\\ </script>";

    private static final String TOOLS = "[{\"type\":\"function\",\"name\":\"read_file\",\"description\":\"" + AWKWARD
            + "\",\"parameters\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},"
            + "\"n\":{\"type\":\"number\",\"minimum\":1.5}},\"required\":[\"path\"]}}]";

    private static ResponseRecord record(String request) throws Exception {
        ResponseParams p = ParamsParser.parse(Runs.JSON.readTree(request));
        return new ResponseRecord(
                "resp_1",
                1,
                p,
                "resp_1",
                Chain.EMPTY,
                p.input(),
                List.of(),
                ResponseStatus.IN_PROGRESS,
                null,
                null,
                null,
                null,
                "anonymous");
    }

    private static void sameBytes(String request) throws Exception {
        ResponseRecord r = record(request);
        ResponseJson.Echo echo = ResponseJson.Echo.of(r.params());
        byte[] plain = Json.bytes(ResponseJson.render(r));
        assertArrayEquals(plain, Json.bytes(ResponseJson.render(r, echo)), "the echo wrote other bytes");
        assertArrayEquals(plain, Json.bytes(ResponseJson.render(r, echo)), "the echo serves every event of the run");
    }

    @Test
    void anEchoWritesTheSameBytesAsRenderingTheFields() throws Exception {
        sameBytes("{\"model\":\"m\",\"input\":\"a\",\"instructions\":\"" + AWKWARD + "\",\"tools\":" + TOOLS + "}");
        // longer than the generator's buffer, so it is not copied into it but written past it
        sameBytes("{\"model\":\"m\",\"input\":\"a\",\"instructions\":\"" + AWKWARD.repeat(300) + "\",\"tools\":" + TOOLS
                + "}");
        sameBytes("{\"model\":\"m\",\"input\":\"a\"}"); // no instructions, no tools
        sameBytes("{\"model\":\"m\",\"input\":\"a\",\"instructions\":\"\",\"tools\":[]}");
    }

    /** Answers "hi". */
    private static final class Hi implements ModelBackend {
        @Override
        public ModelResult generate(ModelRequest request, ModelSink sink) {
            sink.text("hi");
            return new ModelResult(ModelResult.Finish.STOP, ModelResult.Usage.UNKNOWN);
        }

        @Override
        public String describe() {
            return "test";
        }
    }

    @Test
    void everyEventOfARunEchoesTheRequest() throws Exception {
        String request = "{\"model\":\"m\",\"input\":\"a\",\"store\":false,\"instructions\":\"" + AWKWARD
                + "\",\"tools\":" + TOOLS + "}";
        JsonNode asked = Runs.JSON.readTree(request);
        try (StreamEngine engine = Runs.memoryEngine(EngineObserver.NONE);
                ResponseService service = Runs.service(engine, new Hi(), new Metrics())) {
            ResponseRun run = Runs.start(service, request);
            run.done().toCompletableFuture().get(5, TimeUnit.SECONDS);
            Map<String, JsonNode> events = new ConcurrentHashMap<>();
            Runs.watch(run, (type, json) -> {
                try {
                    events.put(type, Runs.JSON.readTree(json));
                } catch (java.io.IOException e) {
                    throw new AssertionError(e);
                }
            });
            for (String type : List.of("response.created", "response.in_progress", "response.completed")) {
                JsonNode response = events.get(type).path("response");
                assertEquals(asked.get("instructions"), response.get("instructions"), type);
                assertEquals(asked.get("tools"), response.get("tools"), type);
                ObjectNode plain = ResponseJson.render(run.finished());
                assertEquals(plain.get("tools"), response.get("tools"), type);
            }
        }
    }
}
