package dev.tether.inference.embedded;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.inference.ChatMessage;
import dev.tether.inference.ToolCall;
import dev.tether.inference.ToolSpec;
import dev.tether.inference.embedded.llama.LlamaModel;
import dev.tether.inference.embedded.llama.LlamaModel.Turn;
import java.util.ArrayList;
import java.util.List;

/**
 * Renders a context into the model's prompt text. The template is the model's own
 * ({@code tokenizer.chat_template} in its GGUF metadata) when llama.cpp recognises it; otherwise
 * ChatML is used and the log says so. Rendering is append-only: turn N's prompt is a prefix of
 * turn N+1's, which is what lets a session's KV cache be reused.
 *
 * <p>Immutable and thread-safe.
 */
final class ChatPrompt {
    private static final System.Logger LOG = System.getLogger(ChatPrompt.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String FALLBACK = "chatml";
    /** Placeholder delimiters: private-use characters, which no template's text contains. */
    private static final char OPEN = '\uE000';

    private static final char CLOSE = '\uE001';

    private final LlamaModel model;
    private final String template;
    private final String templateName;

    ChatPrompt(LlamaModel model) {
        this.model = model;
        String own = model.chatTemplate();
        List<Turn> probe = List.of(new Turn("user", "hi"));
        if (own != null && model.applyTemplate(own, probe, true) != null) {
            template = own;
            templateName = "the model's own (from its GGUF metadata)";
        } else {
            template = FALLBACK;
            templateName = FALLBACK + " (fallback: the model has "
                    + (own == null ? "no chat template" : "a chat template llama.cpp does not recognise") + ")";
            LOG.log(System.Logger.Level.WARNING, "chat template: {0}", templateName);
        }
    }

    /**
     * Text that ends a turn. With ChatML the markers are special tokens in most models (they end
     * generation as tokens); in a vocabulary without them they arrive as text and stop it here.
     */
    List<String> stops() {
        return template.contains("<|im_start|>") || template.equals(FALLBACK)
                ? List.of("<|im_end|>", "<|im_start|>")
                : List.of();
    }

    /** Which template is in use, for logs. */
    String templateName() {
        return templateName;
    }

    /**
     * A rendered prompt: the template's own text and the messages' contents, in order. Only
     * template text may hold control tokens; content is always plain text.
     */
    record Rendered(List<Segment> segments) {
        Rendered {
            segments = List.copyOf(segments);
        }

        /** The prompt as one string. */
        String text() {
            StringBuilder out = new StringBuilder();
            for (Segment s : segments) out.append(s.text());
            return out.toString();
        }
    }

    /** A run of prompt text: the template's ({@code content} false) or a message's. */
    record Segment(String text, boolean content) {}

    /**
     * The prompt for the next assistant turn. Each message's content goes through the template
     * as a placeholder, so the output shows exactly where content ends and template text
     * begins; the content's leading and trailing whitespace stays outside the placeholder,
     * where a template that trims content removes it as it would have.
     */
    Rendered render(List<ChatMessage> messages, List<ToolSpec> tools) {
        List<Turn> turns = new ArrayList<>(messages.size() + 1);
        String toolText = tools.isEmpty() ? null : describe(tools);
        boolean toolsPlaced = toolText == null;
        for (ChatMessage m : messages) {
            Turn turn = turn(m);
            if (!toolsPlaced && turn.role().equals("system")) {
                turn = new Turn("system", turn.content() + "\n\n" + toolText);
                toolsPlaced = true;
            }
            turns.add(turn);
        }
        if (!toolsPlaced) turns.addFirst(new Turn("system", toolText));
        List<String> contents = new ArrayList<>(turns.size());
        List<Turn> placeholders = new ArrayList<>(turns.size());
        for (Turn t : turns) {
            placeholders.add(new Turn(t.role(), placeholder(t.content(), contents)));
        }
        String prompt = model.applyTemplate(template, placeholders, true);
        if (prompt == null) throw new IllegalStateException("template " + templateName + " failed to render");
        return fill(prompt, contents);
    }

    private static String placeholder(String content, List<String> contents) {
        int start = 0;
        int end = content.length();
        while (start < end && isSpace(content.charAt(start))) start++;
        while (end > start && isSpace(content.charAt(end - 1))) end--;
        if (start == end) return content; // nothing that could hold a marker
        contents.add(content.substring(start, end));
        return content.substring(0, start) + OPEN + (contents.size() - 1) + CLOSE + content.substring(end);
    }

    /** C's isspace, which llama.cpp's templates trim with. */
    private static boolean isSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }

    private static Rendered fill(String prompt, List<String> contents) {
        List<Segment> out = new ArrayList<>();
        int at = 0;
        for (int open = prompt.indexOf(OPEN); open >= 0; open = prompt.indexOf(OPEN, at)) {
            int close = prompt.indexOf(CLOSE, open);
            if (close < 0) throw new IllegalStateException("the chat template cut a placeholder");
            if (open > at) out.add(new Segment(prompt.substring(at, open), false));
            out.add(new Segment(contents.get(Integer.parseInt(prompt, open + 1, close, 10)), true));
            at = close + 1;
        }
        if (at < prompt.length()) out.add(new Segment(prompt.substring(at), false));
        return new Rendered(out);
    }

    private static Turn turn(ChatMessage m) {
        return switch (m) {
            case ChatMessage.System s -> new Turn("system", s.text());
            case ChatMessage.User u -> new Turn("user", u.text());
            case ChatMessage.Assistant a -> new Turn("assistant", a.text() + calls(a.toolCalls()));
            case ChatMessage.ToolResult r -> new Turn("tool", r.output());
        };
    }

    /** Past calls, written the way the model is asked to write them ({@link ToolCallParser}). */
    private static String calls(List<ToolCall> calls) {
        StringBuilder out = new StringBuilder();
        for (ToolCall c : calls) {
            ObjectNode call = JSON.createObjectNode().put("name", c.name());
            try {
                call.set("arguments", JSON.readTree(c.arguments()));
            } catch (java.io.IOException | RuntimeException e) {
                call.put("arguments", c.arguments()); // not JSON: kept as the string it was
            }
            out.append(out.isEmpty() ? "" : "\n")
                    .append(ToolCallParser.OPEN)
                    .append(call)
                    .append(ToolCallParser.CLOSE);
        }
        return out.toString();
    }

    /**
     * Tools are described in the system prompt in the Hermes / Qwen convention, which open models
     * with tool training follow: the signatures inside {@code <tools>}, and calls answered as
     * {@code <tool_call>} JSON, which {@link ToolCallParser} turns into tool calls.
     */
    private static String describe(List<ToolSpec> tools) {
        StringBuilder out =
                new StringBuilder("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                        + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        for (ToolSpec t : tools) {
            ObjectNode fn = JSON.createObjectNode().put("name", t.name());
            if (t.description() != null) fn.put("description", t.description());
            if (t.parameters() != null) fn.set("parameters", t.parameters());
            ObjectNode wrapped = JSON.createObjectNode().put("type", "function");
            wrapped.set("function", fn);
            out.append('\n').append(wrapped);
        }
        return out.append("\n</tools>\n\nFor each function call, return a json object with function name and arguments"
                        + " within <tool_call></tool_call> XML tags:\n<tool_call>\n"
                        + "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>")
                .toString();
    }
}
