package dev.tether.inference.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tether.inference.ModelException;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChunkReaderTest {
    private static byte[] bytes(String line) {
        return line.getBytes(StandardCharsets.UTF_8);
    }

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

        @Override
        public void logprobs(List<dev.tether.inference.TokenLogprob> tokens) {
            calls.add("logprobs:" + tokens.get(0).token());
        }

        @Override
        public void answered(ModelResult result) {
            calls.add("answered:" + result.finish());
        }
    }

    /** Feeds the lines, then a clean end; the outcome's failure is thrown as itself. */
    private static ModelResult read(Recorder sink, String... lines) throws Exception {
        ChunkReader reader = new ChunkReader(sink, "u");
        for (String line : lines) {
            reader.line(line.getBytes(StandardCharsets.UTF_8));
        }
        reader.ended(null);
        try {
            return reader.outcome().getNow(null);
        } catch (java.util.concurrent.CompletionException e) {
            throw (Exception) e.getCause();
        }
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
                List.of("text:Hi", "call:0:call_9:f", "args:0:{\"a\"", "args:0::1}", "answered:TOOL_CALLS"),
                sink.calls,
                "arguments that arrive before the name are held back, upstream index 3 becomes our 0;"
                        + " the end is told once, after the last fragment");
        assertEquals(ModelResult.Finish.TOOL_CALLS, r.finish());
        assertEquals(new ModelResult.Usage(100, 64, 7), r.usage());
    }

    @Test
    void aStreamThatEndsWithoutFinishingIsAnError() {
        Recorder sink = new Recorder();
        ModelException e = assertThrows(
                ModelException.class, () -> read(sink, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}"));
        assertEquals(ModelException.Kind.UNAVAILABLE, e.kind());
        assertEquals(List.of("text:Hi"), sink.calls, "a failed answer is not told as answered");
    }

    @Test
    void anErrorChunkIsReported() {
        ModelException e = assertThrows(
                ModelException.class, () -> read(new Recorder(), "data: {\"error\":{\"message\":\"overloaded\"}}"));
        assertEquals("upstream u failed mid-answer: overloaded", e.getMessage());
    }

    @Test
    void nothingReachesTheSinkAfterDoneOrStop() {
        Recorder sink = new Recorder();
        ChunkReader reader = new ChunkReader(sink, "u");
        reader.line(bytes("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}"));
        reader.line(bytes("data: [DONE]"));
        reader.line(bytes("data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}"));
        assertEquals(List.of("text:a", "answered:STOP"), sink.calls, "a line after [DONE] was handed on");
        assertEquals(ModelResult.Finish.STOP, reader.outcome().join().finish());

        Recorder other = new Recorder();
        ChunkReader stopped = new ChunkReader(other, "u");
        stopped.stop();
        stopped.line(bytes("data: {\"choices\":[{\"delta\":{\"content\":\"c\"}}]}"));
        assertEquals(List.of(), other.calls, "a line after stop was handed on");
    }

    @Test
    void aBrokenConnectionIsTheOutcomeAsItCame() {
        ChunkReader reader = new ChunkReader(new Recorder(), "u");
        java.io.IOException broken = new java.io.IOException("reset");
        reader.ended(broken);
        assertEquals(
                broken,
                assertThrows(java.util.concurrent.CompletionException.class, () -> reader.outcome()
                                .join())
                        .getCause());
    }

    /**
     * A chunk is read from its bytes without a tree, and means what its tree meant: fields in any
     * order, unknown ones of any shape skipped, JSON null as absent, text from UTF-8.
     */
    @Test
    void aChunkMeansWhatItsTreeMeant() throws Exception {
        Recorder sink = new Recorder();
        ModelResult r = read(
                sink,
                "data:{\"id\":\"c\",\"x\":{\"choices\":[{\"delta\":{\"content\":\"no\"}}]},\"y\":[[{}],[]],"
                        + "\"choices\":[{\"logprobs\":null,\"delta\":{\"role\":{\"a\":[1]},\"content\":null},"
                        + "\"finish_reason\":null}]}\t ",
                "data: {\"choices\":[{\"delta\":{\"content\":\"Gr\u00fc\u00dfe \\ud83d\\ude00 \\\"q\\\"\"},"
                        + "\"logprobs\":{\"content\":[{\"token\":\"G\",\"logprob\":-0.5}]}}]}",
                "data: 42",
                "data: [\"a\",{\"choices\":[]}]",
                "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":\"1\",\"id\":null,"
                        + "\"function\":{\"name\":\"f\",\"arguments\":null,\"z\":{}}}]}}]}",
                "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"{}\"}}]}}]}",
                "data: {\"choices\":[{\"finish_reason\":\"length\",\"delta\":{}}],\"usage\":null}",
                "data:   [DONE]  ");
        assertEquals(5, sink.calls.size(), sink.calls.toString());
        assertEquals(
                List.of("logprobs:G", "text:Gr\u00fc\u00dfe \ud83d\ude00 \"q\""),
                sink.calls.subList(0, 2),
                "a choice's log-probabilities go before its text, wherever they are in the chunk");
        assertEquals(
                "args:0:{}",
                sink.calls.get(3),
                "a call without an index is keyed by the count of calls so far (1 here: the call at upstream index \"1\")");
        assertEquals(ModelResult.Finish.LENGTH, r.finish());

        Recorder late = new Recorder();
        ModelException e = assertThrows(
                ModelException.class,
                () -> read(
                        late,
                        "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"error\":{\"message\":\"boom\"}}"));
        assertEquals("upstream u failed mid-answer: boom", e.getMessage());
        assertEquals(List.of(), late.calls, "a chunk with an error is not handed on, wherever the error is in it");

        assertThrows(
                com.fasterxml.jackson.core.JsonProcessingException.class,
                () -> read(new Recorder(), "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}"),
                "a chunk cut short is an error, not a partial chunk");
    }

    /** What the tree made of odd input, the byte parser makes of it too. */
    @Test
    void oddInputReadsAsItsTreeRead() throws Exception {
        Recorder sink = new Recorder();
        ChunkReader reader = new ChunkReader(sink, "u");
        byte[] bad = bytes("data: {\"choices\":[{\"delta\":{\"content\":\"a?b\"}}]}");
        bad[bad.length - 7] = (byte) 0xff; // the '?': not UTF-8
        reader.line(bad);
        for (String line : new String[] {
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":-2,\"function\":{\"name\":\"neg\"}}]}}]}",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":4294967298,\"function\":{\"name\":\"two\"}}]}}]}",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":true,\"function\":{\"name\":\"one\"}}]}}]}",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":\" 1.5\",\"function\":{\"arguments\":\"x\"}}]}}]}",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":\"x\",\"function\":{\"name\":\"next\"}}]}}]}",
            "data: [DONE]"
        }) {
            reader.line(bytes(line));
        }
        List<String> calls = sink.calls.stream()
                .map(c -> c.replaceAll("call_[0-9a-f]{32}", "ID"))
                .toList();
        assertEquals(
                List.of(
                        "text:a\ufffdb",
                        "call:0:ID:neg",
                        "call:1:ID:two",
                        "call:2:ID:one",
                        "args:2:x",
                        "call:3:ID:next",
                        "answered:TOOL_CALLS"),
                calls,
                "a bad byte is U+FFFD; an index of -2, 2^32+2 (2), true (1), \" 1.5\" (1) as the tree read them; \"x\" none");

        assertThrows(
                com.fasterxml.jackson.core.JsonProcessingException.class,
                () -> read(new Recorder(), "data: \"cut short"),
                "a malformed value that is not an object is still an error");
    }
}
