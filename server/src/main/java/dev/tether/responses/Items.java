package dev.tether.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Validates input items and brings them to one canonical shape (explicit {@code type}, content
 * as a parts array, an id on every item), so a chain replays byte-identically every turn.
 * Normalized items are never mutated afterwards: chains share them.
 */
public final class Items {
    private static final Set<String> ROLES = Set.of("user", "assistant", "system", "developer");

    private Items() {}

    /** {@code input} as sent: a string (one user message), an array of items, or absent. */
    public static List<ObjectNode> normalize(JsonNode input, String param) {
        List<ObjectNode> items = new ArrayList<>();
        if (input == null || input.isNull() || input.isMissingNode()) {
            return items;
        }
        if (input.isTextual()) {
            items.add(message("user", textParts("input_text", input.asText()), null));
            return items;
        }
        if (!input.isArray()) {
            throw Refusal.invalid(
                    param,
                    "Invalid type for '" + param + "': expected a string or an array of items, but got "
                            + ParamsParser.kind(input) + " instead.");
        }
        for (int i = 0; i < input.size(); i++) {
            items.add(item(input.get(i), param + "[" + i + "]"));
        }
        return items;
    }

    /** {@code {"type":"item_reference","id":...}}: resolved against the chain by {@link #resolveReferences}. */
    private static ObjectNode reference(JsonNode item, String where) {
        if (!item.path("id").isTextual() || item.get("id").asText().isEmpty()) {
            throw Refusal.invalid(where + ".id", "Missing required parameter: '" + where + ".id'.");
        }
        return Json.object()
                .put("type", "item_reference")
                .put("id", item.get("id").asText());
    }

    /**
     * The input with each {@code item_reference} replaced by the item it names: one of the
     * chain's or conversation's items, or an earlier item of this input. The resolved items are
     * what the response stores, so nothing later depends on the reference.
     */
    static List<ObjectNode> resolveReferences(List<ObjectNode> input, Chain chain) {
        boolean any = false;
        for (ObjectNode i : input) {
            any |= i.path("type").asText().equals("item_reference");
        }
        if (!any) {
            return input;
        }
        java.util.Map<String, ObjectNode> byId = new java.util.HashMap<>();
        for (ObjectNode i : chain.items()) {
            if (i.path("id").isTextual()) {
                byId.put(i.get("id").asText(), i);
            }
        }
        List<ObjectNode> out = new ArrayList<>(input.size());
        for (int k = 0; k < input.size(); k++) {
            ObjectNode i = input.get(k);
            if (i.path("type").asText().equals("item_reference")) {
                String id = i.get("id").asText();
                ObjectNode found = byId.get(id);
                if (found == null) {
                    throw Refusal.invalid(
                            "input[" + k + "].id",
                            "No item with id '" + id + "' in this response's chain or conversation (item_reference"
                                    + " names an item of the previous responses or conversation, or an earlier input item).");
                }
                i = found;
            }
            out.add(i);
            if (i.path("id").isTextual()) {
                byId.put(i.get("id").asText(), i);
            }
        }
        return out;
    }

    private static ObjectNode item(JsonNode item, String where) {
        if (!item.isObject()) {
            throw Refusal.invalid(
                    where,
                    "Invalid type for '" + where + "': expected an object, but got " + ParamsParser.kind(item)
                            + " instead.");
        }
        if (item.hasNonNull("id") && !item.get("id").isTextual()) {
            throw Refusal.invalid(
                    where + ".id",
                    "Invalid type for '" + where + ".id': expected a string, but got "
                            + ParamsParser.kind(item.get("id")) + " instead.");
        }
        String type = item.hasNonNull("type") ? item.get("type").asText() : item.has("role") ? "message" : "";
        return switch (type) {
            case "message" -> message(item, where);
            case "function_call" -> functionCall(item, where);
            case "function_call_output" -> functionOutput(item, where);
            case "reasoning" -> reasoning(item, where);
            case "item_reference" -> reference(item, where);
            case Compaction.TYPE -> Compaction.normalize(item, where);
            default ->
                throw Refusal.invalid(
                        where + ".type",
                        "Invalid value for '" + where + ".type': '" + type
                                + "'. Supported: message, function_call, function_call_output, reasoning, item_reference,"
                                + " compaction.");
        };
    }

    private static ObjectNode message(JsonNode item, String where) {
        String role = requiredText(item, "role", where);
        if (!ROLES.contains(role)) {
            throw Refusal.invalid(
                    where + ".role",
                    "Invalid value for '" + where + ".role': '" + role
                            + "'. Supported values are: 'user', 'assistant', 'system' and 'developer'.");
        }
        String partType = role.equals("assistant") ? "output_text" : "input_text";
        JsonNode content = item.get("content");
        ArrayNode parts;
        if (content != null && content.isTextual()) {
            parts = textParts(partType, content.asText());
        } else if (content != null && content.isArray()) {
            parts = Json.MAPPER.createArrayNode();
            for (int i = 0; i < content.size(); i++) {
                parts.add(part(content.get(i), partType, where + ".content[" + i + "]"));
            }
        } else {
            throw Refusal.invalid(
                    where + ".content",
                    "Missing or invalid '" + where + ".content': expected a string or an array of content parts.");
        }
        return message(role, parts, item.hasNonNull("id") ? item.get("id").asText() : null);
    }

    private static ObjectNode part(JsonNode part, String partType, String where) {
        String type = part.path("type").asText("");
        if (!(type.equals("input_text") || type.equals("output_text") || type.equals("text"))) {
            throw Refusal.invalid(
                    where + ".type",
                    "Content part type '" + type + "' is not supported by this server; "
                            + "send text parts (input_text, output_text).");
        }
        if (!part.path("text").isTextual()) {
            throw Refusal.invalid(where + ".text", "Missing or invalid '" + where + ".text': expected a string.");
        }
        return textPart(partType, part.get("text").asText());
    }

    static ObjectNode message(String role, ArrayNode parts, String id) {
        ObjectNode m = Json.object();
        m.put("id", id != null ? id : Ids.message());
        m.put("type", "message");
        m.put("role", role);
        m.set("content", parts);
        m.put("status", "completed");
        return m;
    }

    static ArrayNode textParts(String partType, String text) {
        ArrayNode parts = Json.MAPPER.createArrayNode();
        parts.add(textPart(partType, text));
        return parts;
    }

    static ObjectNode textPart(String partType, String text) {
        ObjectNode p = Json.object().put("type", partType).put("text", text);
        if (partType.equals("output_text")) {
            p.putArray("annotations");
            p.putArray("logprobs");
        }
        return p;
    }

    private static ObjectNode functionCall(JsonNode item, String where) {
        ObjectNode c = Json.object();
        c.put("id", item.hasNonNull("id") ? item.get("id").asText() : Ids.functionCall());
        c.put("type", "function_call");
        c.put("status", "completed");
        c.put("arguments", requiredText(item, "arguments", where));
        c.put("call_id", requiredText(item, "call_id", where));
        c.put("name", requiredText(item, "name", where));
        return c;
    }

    private static ObjectNode functionOutput(JsonNode item, String where) {
        ObjectNode o = Json.object();
        o.put("id", item.hasNonNull("id") ? item.get("id").asText() : Ids.functionOutput());
        o.put("type", "function_call_output");
        o.put("call_id", requiredText(item, "call_id", where));
        JsonNode output = item.get("output");
        if (output != null && output.isTextual()) {
            o.put("output", output.asText());
        } else if (output != null && output.isArray()) {
            ArrayNode parts = o.putArray("output");
            for (int i = 0; i < output.size(); i++) {
                parts.add(part(output.get(i), "input_text", where + ".output[" + i + "]"));
            }
        } else {
            throw Refusal.invalid(
                    where + ".output",
                    "Missing or invalid '" + where + ".output': expected a string or an array of input_text parts.");
        }
        o.put("status", "completed");
        return o;
    }

    private static ObjectNode reasoning(JsonNode item, String where) {
        if (!item.path("summary").isArray()) {
            throw Refusal.invalid(where + ".summary", "Missing '" + where + ".summary': expected an array.");
        }
        ObjectNode copy = item.deepCopy();
        if (!copy.path("id").isTextual()) {
            copy.put("id", Ids.reasoning()); // every item has an id: conversations key items by it
        }
        return copy;
    }

    private static String requiredText(JsonNode item, String field, String where) {
        JsonNode v = item.get(field);
        if (v == null || !v.isTextual()) {
            throw Refusal.invalid(
                    where + "." + field, "Missing required parameter: '" + where + "." + field + "' (a string).");
        }
        return v.asText();
    }

    /** The plain text of a message's parts or of a function output, concatenated. */
    static String text(JsonNode contentOrOutput) {
        if (contentOrOutput.isTextual()) {
            return contentOrOutput.asText();
        }
        StringBuilder b = new StringBuilder();
        for (JsonNode part : contentOrOutput) {
            b.append(part.path("text").asText());
        }
        return b.toString();
    }
}
