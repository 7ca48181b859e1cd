package dev.tether.inference;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Objects;

/**
 * Everything a backend needs for one turn.
 *
 * @param model             the model the client named (a backend may map or ignore it)
 * @param sessionKey        identifies the chain or conversation (its root): backends pin
 *                          state or route by it so caches stay warm
 * @param persistent        false for {@code store:false}: nothing about the turn may reach disk
 * @param messages          the whole context, oldest first
 * @param tools             functions the model may call
 * @param toolChoice        the client's {@code tool_choice} as sent, or null
 * @param parallelToolCalls or null for the backend's default
 * @param temperature       or null
 * @param topP              or null
 * @param maxOutputTokens   or null
 * @param textFormat        the client's {@code text.format} when it asks for JSON
 *                          ({@code json_object} or {@code json_schema}), or null for plain text
 * @param topLogprobs       null when the client did not ask for log-probabilities, else how many
 *                          alternatives to report per token (0 to 20)
 */
public record ModelRequest(
        String model,
        String sessionKey,
        boolean persistent,
        List<ChatMessage> messages,
        List<ToolSpec> tools,
        JsonNode toolChoice,
        Boolean parallelToolCalls,
        Double temperature,
        Double topP,
        Integer maxOutputTokens,
        JsonNode textFormat,
        Integer topLogprobs) {

    public ModelRequest {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(sessionKey, "sessionKey");
        messages = List.copyOf(messages);
        tools = List.copyOf(tools);
    }

    /** The same turn over another context (truncated or compacted). */
    public ModelRequest withMessages(List<ChatMessage> others) {
        return new ModelRequest(
                model,
                sessionKey,
                persistent,
                others,
                tools,
                toolChoice,
                parallelToolCalls,
                temperature,
                topP,
                maxOutputTokens,
                textFormat,
                topLogprobs);
    }
}
