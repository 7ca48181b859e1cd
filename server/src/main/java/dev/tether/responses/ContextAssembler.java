package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import dev.tether.inference.ChatMessage;
import dev.tether.inference.ToolCall;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Maps a chain's items to the neutral messages a backend renders. An assistant message and the
 * function calls right after it become one assistant turn, the way Chat Completions expects.
 * Also enforces the pairing rules OpenAI enforces, with its messages: every function call output
 * answers an earlier call, and every call is answered before the model runs again.
 */
final class ContextAssembler {
    private ContextAssembler() {}

    static List<ChatMessage> assemble(String instructions, List<ObjectNode> items) {
        List<ChatMessage> messages = new ArrayList<>();
        if (instructions != null && !instructions.isEmpty()) {
            messages.add(new ChatMessage.System(instructions));
        }
        Set<String> called = new java.util.LinkedHashSet<>();
        Set<String> answered = new HashSet<>();
        String assistantText = null;
        List<ToolCall> calls = new ArrayList<>();
        for (ObjectNode item : Compaction.window(items)) {
            String type = item.path("type").asText();
            if (type.equals("function_call")) {
                String callId = item.get("call_id").asText();
                called.add(callId);
                calls.add(new ToolCall(
                        callId, item.get("name").asText(), item.get("arguments").asText()));
                continue;
            }
            if (type.equals("reasoning")) {
                continue; // nothing a chat backend can replay
            }
            if (assistantText != null || !calls.isEmpty()) {
                messages.add(new ChatMessage.Assistant(assistantText == null ? "" : assistantText, calls));
                assistantText = null;
                calls = new ArrayList<>();
            }
            if (type.equals(Compaction.TYPE)) {
                messages.add(new ChatMessage.System(
                        Compaction.SUMMARY_PREFIX + Compaction.content(item).summary()));
                continue;
            }
            if (type.equals("function_call_output")) {
                String callId = item.get("call_id").asText();
                if (!called.contains(callId)) {
                    throw Refusal.invalid(
                            "input", "No tool call found for function call output with call_id " + callId + ".");
                }
                answered.add(callId);
                messages.add(new ChatMessage.ToolResult(callId, Items.text(item.get("output"))));
                continue;
            }
            String role = item.get("role").asText();
            String text = Items.text(item.get("content"));
            switch (role) {
                case "assistant" -> assistantText = text;
                case "user" -> messages.add(new ChatMessage.User(text));
                default -> messages.add(new ChatMessage.System(text));
            }
        }
        if (assistantText != null || !calls.isEmpty()) {
            messages.add(new ChatMessage.Assistant(assistantText == null ? "" : assistantText, calls));
        }
        for (String callId : called) {
            if (!answered.contains(callId)) {
                throw Refusal.invalid("input", "No tool output found for function call " + callId + ".");
            }
        }
        return messages;
    }
}
