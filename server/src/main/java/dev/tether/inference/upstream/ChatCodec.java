package dev.tether.inference.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.inference.ChatMessage;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ToolCall;
import dev.tether.inference.ToolSpec;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Renders a {@link ModelRequest} as a Chat Completions request body. The serialization is
 * canonical: fixed key order, one shape per message kind, nothing that depends on the turn
 * (no timestamps, no ids the gateway invents per request). Turn N+1's body therefore starts
 * with exactly turn N's messages, so a provider's prefix cache sees a pure append.
 *
 * <p>Stateless and thread-safe.
 */
final class ChatCodec {
    static final ObjectMapper JSON = new ObjectMapper();

    private ChatCodec() {}

    /**
     * The request body: {@code model}, {@code messages} (each message's JSON from {@code cache},
     * serialized again only where it changed since the session's last turn), then the rest in a
     * fixed order.
     */
    static byte[] requestBody(ModelRequest request, String model, PrefixCache cache) {
        ObjectNode rest = JSON.createObjectNode();
        if (!request.tools().isEmpty()) {
            ArrayNode tools = rest.putArray("tools");
            for (ToolSpec t : request.tools()) {
                tools.add(tool(t));
            }
            if (request.toolChoice() != null) {
                rest.set("tool_choice", toolChoice(request.toolChoice()));
            }
            if (request.parallelToolCalls() != null) {
                rest.put("parallel_tool_calls", request.parallelToolCalls());
            }
        }
        if (request.temperature() != null) {
            rest.put("temperature", request.temperature());
        }
        if (request.topP() != null) {
            rest.put("top_p", request.topP());
        }
        if (request.maxOutputTokens() != null) {
            rest.put("max_tokens", request.maxOutputTokens());
        }
        if (request.textFormat() != null) {
            rest.set("response_format", responseFormat(request.textFormat()));
        }
        if (request.topLogprobs() != null) {
            rest.put("logprobs", true);
            if (request.topLogprobs() > 0) rest.put("top_logprobs", request.topLogprobs());
        }
        rest.put("stream", true);
        rest.putObject("stream_options").put("include_usage", true);
        List<byte[]> messages = cache.render(request.sessionKey(), request.messages(), ChatCodec::messageJson);
        byte[] tail = bytes(rest); // {"tools":…,"stream":true,…}: never empty
        int size = tail.length + 64 + (model == null ? 4 : model.length() * 3);
        for (byte[] m : messages) {
            size += m.length + 1;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(size);
        out.writeBytes(MODEL);
        out.writeBytes(bytes(model));
        out.writeBytes(MESSAGES);
        for (int i = 0; i < messages.size(); i++) {
            if (i > 0) {
                out.write(',');
            }
            out.writeBytes(messages.get(i));
        }
        out.write(']');
        out.write(',');
        out.write(tail, 1, tail.length - 1);
        return out.toByteArray();
    }

    private static final byte[] MODEL = "{\"model\":".getBytes(StandardCharsets.UTF_8);
    private static final byte[] MESSAGES = ",\"messages\":[".getBytes(StandardCharsets.UTF_8);

    static byte[] messageJson(ChatMessage m) {
        return bytes(message(m));
    }

    /** A tree of plain nodes, or a string (null too), as JSON. */
    private static byte[] bytes(Object value) {
        try {
            return JSON.writeValueAsBytes(value);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize plain JSON values", e);
        }
    }

    /**
     * Responses {@code text.format} as Chat Completions {@code response_format}: the schema moves
     * under {@code json_schema}, with its name, description and strictness.
     */
    static ObjectNode responseFormat(JsonNode format) {
        ObjectNode out = JSON.createObjectNode();
        String type = format.path("type").asText();
        out.put("type", type);
        if (type.equals("json_schema")) {
            ObjectNode schema = out.putObject("json_schema");
            schema.put("name", format.path("name").asText());
            if (format.has("description")) {
                schema.set("description", format.get("description"));
            }
            schema.set("schema", format.get("schema"));
            if (format.has("strict")) {
                schema.set("strict", format.get("strict"));
            }
        }
        return out;
    }

    private static ObjectNode message(ChatMessage m) {
        ObjectNode node = JSON.createObjectNode();
        switch (m) {
            case ChatMessage.System s -> node.put("role", "system").put("content", s.text());
            case ChatMessage.User u -> node.put("role", "user").put("content", u.text());
            case ChatMessage.Assistant a -> {
                node.put("role", "assistant");
                if (a.toolCalls().isEmpty() || !a.text().isEmpty()) {
                    node.put("content", a.text());
                } else {
                    node.putNull("content");
                }
                if (!a.toolCalls().isEmpty()) {
                    ArrayNode calls = node.putArray("tool_calls");
                    for (ToolCall c : a.toolCalls()) {
                        ObjectNode call =
                                calls.addObject().put("id", c.callId()).put("type", "function");
                        call.putObject("function").put("name", c.name()).put("arguments", c.arguments());
                    }
                }
            }
            case ChatMessage.ToolResult t ->
                node.put("role", "tool").put("tool_call_id", t.callId()).put("content", t.output());
        }
        return node;
    }

    private static ObjectNode tool(ToolSpec t) {
        ObjectNode tool = JSON.createObjectNode().put("type", "function");
        ObjectNode function = tool.putObject("function").put("name", t.name());
        if (t.description() != null) {
            function.put("description", t.description());
        }
        if (t.parameters() != null) {
            function.set("parameters", t.parameters());
        }
        if (t.strict() != null) {
            function.put("strict", t.strict());
        }
        return tool;
    }

    /** Responses' {@code {type:"function",name}} becomes Chat's {@code {type,function:{name}}}. */
    private static JsonNode toolChoice(JsonNode choice) {
        if (choice.isObject() && choice.has("name")) {
            ObjectNode mapped = JSON.createObjectNode().put("type", "function");
            mapped.putObject("function").put("name", choice.get("name").asText());
            return mapped;
        }
        return choice;
    }
}
