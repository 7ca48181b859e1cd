package dev.tether.inference.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.inference.ModelSink;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Tool calls written as text (Hermes/Qwen tags, Llama 3 JSON) become tool calls, whatever the chunking. */
class ToolCallParserTest {
    /** What reached the sink: text merged, calls as "name(args)". */
    private static final class Recorder implements ModelSink {
        final StringBuilder text = new StringBuilder();
        final List<String> calls = new ArrayList<>();

        @Override
        public void text(String delta) {
            text.append(delta);
        }

        @Override
        public void toolCall(int index, String callId, String name) {
            assertEquals(calls.size(), index, "calls are numbered in order");
            calls.add(name + "(");
        }

        @Override
        public void toolArguments(int index, String delta) {
            calls.set(index, calls.get(index) + delta + ")");
        }
    }

    private static Recorder parse(String output, int chunk) {
        Recorder r = new Recorder();
        ToolCallParser p = new ToolCallParser(r, Set.of("get_weather", "search"));
        for (int i = 0; i < output.length(); i += chunk) {
            p.text(output.substring(i, Math.min(output.length(), i + chunk)));
        }
        p.finish();
        return r;
    }

    @Test
    void hermesTagsBecomeCallsAndTheTextAroundThemStays() {
        String out = "Let me check. <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
                + "</tool_call><tool_call>{\"name\":\"search\",\"arguments\":{\"q\":\"a<b\"}}</tool_call> Done.";
        for (int chunk : new int[] {1, 3, 7, 1000}) {
            Recorder r = parse(out, chunk);
            assertEquals("Let me check.  Done.", r.text.toString(), "chunk " + chunk);
            assertEquals(
                    List.of("get_weather({\"city\":\"Paris\"})", "search({\"q\":\"a<b\"})"), r.calls, "chunk " + chunk);
        }
    }

    @Test
    void aLlama3JsonAnswerIsACall() {
        Recorder r = parse("  {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}", 4);
        assertEquals(List.of("get_weather({\"city\":\"Oslo\"})"), r.calls);
        assertEquals("", r.text.toString());
    }

    @Test
    void whatIsNotACallOfAnOfferedToolStaysText() {
        String unknown = "<tool_call>{\"name\":\"rm_rf\",\"arguments\":{}}</tool_call>";
        assertEquals(unknown, parse(unknown, 5).text.toString(), "a tool nobody offered");
        assertEquals(List.of(), parse(unknown, 5).calls);
        String broken = "see <tool_call>{\"name\": \"search\", ";
        assertEquals(broken, parse(broken, 2).text.toString(), "a call cut off by the end of the answer");
        assertEquals("{not json at all", parse("{not json at all", 3).text.toString());
        assertEquals("a <tool", parse("a <tool", 1).text.toString(), "a tag's start that never completes");
    }
}
