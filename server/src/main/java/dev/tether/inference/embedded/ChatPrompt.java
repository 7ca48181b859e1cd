package dev.tether.inference.embedded;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
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

    /** The prompt for the next assistant turn. */
    String render(List<ChatMessage> messages, List<ToolSpec> tools) {
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
        String prompt = model.applyTemplate(template, turns, true);
        if (prompt == null) throw new IllegalStateException("template " + templateName + " failed to render");
        return prompt;
    }

    private static Turn turn(ChatMessage m) {
        return switch (m) {
            case ChatMessage.System s -> new Turn("system", s.text());
            case ChatMessage.User u -> new Turn("user", u.text());
            case ChatMessage.Assistant a -> new Turn("assistant", a.text() + calls(a.toolCalls()));
            case ChatMessage.ToolResult r -> new Turn("tool", r.output());
        };
    }

    private static String calls(List<ToolCall> calls) {
        StringBuilder out = new StringBuilder();
        for (ToolCall c : calls) {
            ObjectNode call = JSON.createObjectNode().put("name", c.name()).put("arguments", c.arguments());
            out.append(out.isEmpty() ? "" : "\n").append(call);
        }
        return out.toString();
    }

    /** Tools are described in the system prompt; the answer comes back as text. */
    private static String describe(List<ToolSpec> tools) {
        ArrayNode list = JSON.createArrayNode();
        for (ToolSpec t : tools) {
            ObjectNode fn = list.addObject().put("name", t.name());
            if (t.description() != null) fn.put("description", t.description());
            if (t.parameters() != null) fn.set("parameters", t.parameters());
        }
        return "Functions you can call:\n" + list;
    }
}
