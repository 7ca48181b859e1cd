package dev.tether.inference.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tether.inference.ModelException;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import java.io.BufferedReader;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChunkReaderTest {
    /** Records sink calls as strings. */
    static final class Recorder implements ModelSink {
        final List<String> calls = new ArrayList<>();

        @Override
        public void text(String delta) {
            calls.add("text:" + delta);
        }

        @Override
        public void toolCall(int index, String callId, String name) {
            calls.add("call:" + index + ":" + callId + ":" + name);
        }

        @Override
        public void toolArguments(int index, String delta) {
            calls.add("args:" + index + ":" + delta);
        }
    }

    private static ModelResult read(Recorder sink, String... lines) throws Exception {
        return new ChunkReader(sink, "u").readStream(new BufferedReader(new StringReader(String.join("\n", lines))));
    }

    @Test
    void mapsTextToolCallsUsageAndFinishReason() throws Exception {
        Recorder sink = new Recorder();
        ModelResult r = read(
                sink,
                "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}",
                "",
                ": keep-alive comment",
                "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"arguments\":\"{\\\"a\\\"\"}}]}}]}",
                "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3,\"id\":\"call_9\",\"function\":{\"name\":\"f\",\"arguments\":\":1}\"}}]},"
                        + "\"finish_reason\":\"tool_calls\"}]}",
                "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":7,"
                        + "\"prompt_tokens_details\":{\"cached_tokens\":64}}}",
                "data: [DONE]");
        assertEquals(
                List.of("text:Hi", "call:0:call_9:f", "args:0:{\"a\"", "args:0::1}"),
                sink.calls,
                "arguments that arrive before the name are held back, upstream index 3 becomes our 0");
        assertEquals(ModelResult.Finish.TOOL_CALLS, r.finish());
        assertEquals(new ModelResult.Usage(100, 64, 7), r.usage());
    }

    @Test
    void aStreamThatEndsWithoutFinishingIsAnError() {
        Recorder sink = new Recorder();
        ModelException e = assertThrows(
                ModelException.class, () -> read(sink, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}"));
        assertEquals(ModelException.Kind.UNAVAILABLE, e.kind());
    }

    @Test
    void anErrorChunkIsReported() {
        ModelException e = assertThrows(
                ModelException.class, () -> read(new Recorder(), "data: {\"error\":{\"message\":\"overloaded\"}}"));
        assertEquals("upstream u failed mid-answer: overloaded", e.getMessage());
    }
}
