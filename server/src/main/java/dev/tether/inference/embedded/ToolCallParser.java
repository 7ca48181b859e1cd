package dev.tether.inference.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.inference.ModelSink;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Turns the tool calls a model writes as text into tool calls, between the engine and the sink,
 * in the two formats open models are trained on:
 *
 * <ul>
 *   <li>Hermes / Qwen: {@code <tool_call>{"name": "f", "arguments": {...}}</tool_call>}, any
 *       number of them, anywhere in the answer;
 *   <li>Llama 3: the whole answer is one JSON object {@code {"name": "f", "parameters": {...}}}.
 * </ul>
 *
 * <p>Text is passed on as it comes, except what may be the start of a call, which is held until
 * it is known. A call naming no offered tool, or whose JSON does not parse, is passed on as the
 * text it was. The arguments are not checked against the tool's schema (no grammar yet).
 *
 * <p>Confined to the generating thread.
 */
final class ToolCallParser implements ModelSink {
    static final String OPEN = "<tool_call>";
    static final String CLOSE = "</tool_call>";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ModelSink sink;
    private final Set<String> tools;
    private final StringBuilder held = new StringBuilder();
    /** Nothing but whitespace has been passed on yet: a Llama 3 JSON answer is still possible. */
    private boolean atStart = true;

    private int calls;

    ToolCallParser(ModelSink sink, Set<String> tools) {
        this.sink = sink;
        this.tools = tools;
    }

    /** How many tool calls were emitted. */
    int calls() {
        return calls;
    }

    @Override
    public void text(String delta) {
        held.append(delta);
        drain();
    }

    /** The engine itself emits only text; a structured call from elsewhere passes through. */
    @Override
    public void toolCall(int index, String callId, String name) {
        sink.toolCall(index, callId, name);
    }

    @Override
    public void toolArguments(int index, String delta) {
        sink.toolArguments(index, delta);
    }

    /** Passed on at once: the sink attaches them to the next text, so held text stays matched. */
    @Override
    public void logprobs(java.util.List<dev.tether.inference.TokenLogprob> tokens) {
        sink.logprobs(tokens);
    }

    /** The answer ended: whatever is held is a Llama 3 call, or text. */
    void finish() {
        String rest = held.toString();
        held.setLength(0);
        if (atStart && rest.strip().startsWith("{") && call(rest.strip(), "parameters")) {
            return;
        }
        if (!rest.isEmpty()) {
            sink.text(rest);
        }
    }

    private void drain() {
        while (!held.isEmpty()) {
            if (atStart) {
                String s = held.toString();
                String lead = s.stripLeading();
                if (lead.isEmpty()) {
                    return; // only whitespace so far
                }
                if (lead.startsWith("{")) {
                    return; // maybe a Llama 3 call: decided at the end
                }
                atStart = false;
            }
            int open = held.indexOf(OPEN);
            if (open < 0) {
                int keep = partialPrefix(held, OPEN);
                pass(held.length() - keep);
                return;
            }
            pass(open);
            int close = held.indexOf(CLOSE, OPEN.length());
            if (close < 0) {
                return; // inside a call: wait for its end
            }
            String body = held.substring(OPEN.length(), close).strip();
            String whole = held.substring(0, close + CLOSE.length());
            held.delete(0, close + CLOSE.length());
            if (!call(body, "arguments")) {
                sink.text(whole);
            }
        }
    }

    /** Passes the first {@code n} held characters on as text. */
    private void pass(int n) {
        if (n > 0) {
            sink.text(held.substring(0, n));
            held.delete(0, n);
        }
    }

    /** How many trailing characters of {@code s} could begin {@code marker}. */
    static int partialPrefix(CharSequence s, String marker) {
        for (int k = Math.min(marker.length() - 1, s.length()); k > 0; k--) {
            if (marker.startsWith(s.subSequence(s.length() - k, s.length()).toString())) {
                return k;
            }
        }
        return 0;
    }

    /** Emits {@code json} as a call when it names an offered tool; false when it is not one. */
    private boolean call(String json, String argumentsField) {
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (java.io.IOException e) {
            return false;
        }
        if (node == null
                || !node.isObject()
                || !node.path("name").isTextual()
                || !tools.contains(node.get("name").asText())) {
            return false;
        }
        JsonNode args = node.has(argumentsField) ? node.get(argumentsField) : node.get("arguments");
        if (args == null || args.isNull()) {
            args = JSON.createObjectNode();
        }
        String arguments = args.isTextual() ? args.asText() : args.toString();
        String id = "call_" + Long.toHexString(ThreadLocalRandom.current().nextLong());
        sink.toolCall(calls, id, node.get("name").asText());
        sink.toolArguments(calls, arguments);
        calls++;
        return true;
    }
}
