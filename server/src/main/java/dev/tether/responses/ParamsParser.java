package dev.tether.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import dev.tether.inference.ToolSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Turns a create body into {@link ResponseParams}, or an {@link Refusal} naming the field and
 * what is accepted. Unknown fields are ignored (SDKs send fields this server does not use).
 */
public final class ParamsParser {
    /** The {@code include} value that asks for each output token's log-probability. */
    static final String LOGPROBS = "message.output_text.logprobs";

    private static final Set<String> INCLUDABLE = Set.of(
            LOGPROBS,
            "reasoning.encrypted_content",
            "file_search_call.results",
            "web_search_call.results",
            "web_search_call.action.sources",
            "message.input_image.image_url",
            "computer_call_output.output.image_url",
            "code_interpreter_call.outputs");

    private static final Pattern TOOL_NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");
    private static final Set<String> TOOL_CHOICES = Set.of("auto", "none", "required");

    /**
     * Checked before anything is normalized or tokenized (finding 13): a request's own input is
     * bounded; a longer history belongs in a chain or a conversation, which send only new items.
     */
    static final int MAX_INPUT_ITEMS = 10_000;
    /** OpenAI's own limit on function tools per request. */
    static final int MAX_TOOLS = 128;

    private ParamsParser() {}

    public static ResponseParams parse(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw Refusal.invalid(null, "The request body must be a JSON object.");
        }
        String model = string(body, "model", null);
        if (model == null || model.isBlank()) {
            throw Refusal.invalid("model", "Missing required parameter: 'model'.");
        }
        String previous = string(body, "previous_response_id", null);
        String conversation = conversation(body.get("conversation"));
        if (previous != null && conversation != null) {
            throw Refusal.invalid(
                    "conversation",
                    "Mutually exclusive parameters: 'previous_response_id' and 'conversation' cannot be used together.");
        }
        boolean store = bool(body, "store", true);
        boolean background = bool(body, "background", false);
        if (background && !store) {
            throw Refusal.invalid(
                    "background", "Background responses require store: true (they are kept so they can be polled).");
        }
        if (conversation != null && !store) {
            throw Refusal.invalid(
                    "store", "A response in a conversation is stored with it: store: false is not allowed.");
        }
        JsonNode input = body.get("input");
        if (input != null && input.isArray() && input.size() > MAX_INPUT_ITEMS) {
            throw Refusal.invalid(
                    "input",
                    "Too many input items: " + input.size() + " (at most " + MAX_INPUT_ITEMS
                            + " per request; continue with previous_response_id or a conversation to send only new items).");
        }
        if (body.path("tools").isArray() && body.get("tools").size() > MAX_TOOLS) {
            throw Refusal.invalid(
                    "tools", "Too many tools: " + body.get("tools").size() + " (at most " + MAX_TOOLS + ").");
        }
        ArrayNode tools = body.path("tools").isArray() ? (ArrayNode) body.get("tools") : Json.MAPPER.createArrayNode();
        if (body.hasNonNull("tools") && !body.get("tools").isArray()) {
            throw Refusal.invalid(
                    "tools",
                    "Invalid type for 'tools': expected an array, but got " + kind(body.get("tools")) + " instead.");
        }
        List<ToolSpec> specs = toolSpecs(tools);
        textFormat(body.get("text"));
        include(body.get("include"));
        if (body.hasNonNull("top_logprobs")) {
            JsonNode top = body.get("top_logprobs");
            if (!top.isIntegralNumber() || top.asInt() < 0 || top.asInt() > 20) {
                throw Refusal.invalid(
                        "top_logprobs", "Invalid 'top_logprobs': expected an integer from 0 to 20, got " + top + ".");
            }
        }
        String truncation = string(body, "truncation", "disabled");
        if (!truncation.equals("disabled") && !truncation.equals("auto")) {
            throw Refusal.invalid(
                    "truncation",
                    "Invalid value for 'truncation': expected 'auto' or 'disabled', got '" + truncation + "'.");
        }
        Compaction.threshold(body.get("context_management"));
        // Shallow: a stateless request's input can be the whole history, and nothing mutates the tree.
        ObjectNode source = Json.object();
        body.properties().forEach(e -> {
            if (!e.getKey().equals("input") && !e.getKey().equals("type")) {
                source.set(e.getKey(), e.getValue());
            }
        });
        return new ResponseParams(
                model,
                Items.normalize(body.get("input"), "input"),
                string(body, "instructions", null),
                previous,
                conversation,
                store,
                bool(body, "stream", false),
                background,
                tools,
                specs,
                toolChoice(body.get("tool_choice"), specs),
                body.hasNonNull("parallel_tool_calls") ? bool(body, "parallel_tool_calls", true) : null,
                number(body, "temperature", 0, 2),
                number(body, "top_p", 0, 1),
                maxOutputTokens(body.get("max_output_tokens")),
                metadata(body.get("metadata")),
                bool(body, "generate", true),
                source);
    }

    /**
     * Checks {@code include}: a list of the values OpenAI documents. Only
     * {@value #LOGPROBS} changes what Tether returns; the others name outputs Tether has none of.
     */
    private static void include(JsonNode include) {
        if (include == null || include.isNull()) {
            return;
        }
        if (!include.isArray()) {
            throw Refusal.invalid(
                    "include", "Invalid type for 'include': expected an array, but got " + kind(include) + " instead.");
        }
        for (int i = 0; i < include.size(); i++) {
            if (!INCLUDABLE.contains(include.get(i).asText()) || !include.get(i).isTextual()) {
                throw Refusal.invalid(
                        "include[" + i + "]",
                        "Invalid value for 'include[" + i + "]': " + include.get(i) + ". Supported values are: "
                                + String.join(", ", INCLUDABLE.stream().sorted().toList()) + ".");
            }
        }
    }

    /** Checks {@code text.format}: {@code text}, {@code json_object}, or {@code json_schema} with a name and a schema. */
    private static void textFormat(JsonNode text) {
        if (text == null || text.isNull()) {
            return;
        }
        if (!text.isObject()) {
            throw Refusal.invalid(
                    "text", "Invalid type for 'text': expected an object, but got " + kind(text) + " instead.");
        }
        JsonNode f = text.get("format");
        if (f == null || f.isNull()) {
            return;
        }
        if (!f.isObject()) {
            throw Refusal.invalid(
                    "text.format",
                    "Invalid type for 'text.format': expected an object, but got " + kind(f) + " instead.");
        }
        String type = f.path("type").asText("");
        switch (type) {
            case "text", "json_object" -> {}
            case "json_schema" -> {
                if (!f.path("name").isTextual() || !f.get("name").asText().matches("[A-Za-z0-9_-]{1,64}")) {
                    throw Refusal.invalid(
                            "text.format.name",
                            "Missing or invalid 'text.format.name': 1-64 letters, digits, '_' or '-'.");
                }
                if (!f.path("schema").isObject()) {
                    throw Refusal.invalid("text.format.schema", "Missing required parameter: 'text.format.schema'.");
                }
                if (f.has("strict") && !f.get("strict").isBoolean()) {
                    throw Refusal.invalid(
                            "text.format.strict", "Invalid type for 'text.format.strict': expected a boolean.");
                }
            }
            default ->
                throw Refusal.invalid(
                        "text.format.type",
                        "Invalid value for 'text.format.type': '" + type
                                + "'. Supported: text, json_object, json_schema.");
        }
    }

    private static String conversation(JsonNode value) {
        if (value == null || value.isNull()) {
            return null;
        }
        if (value.isTextual()) {
            return value.asText();
        }
        if (value.isObject() && value.path("id").isTextual()) {
            return value.get("id").asText();
        }
        throw Refusal.invalid(
                "conversation", "Invalid 'conversation': expected a conversation id or {\"id\": \"conv_...\"}.");
    }

    private static List<ToolSpec> toolSpecs(ArrayNode tools) {
        List<ToolSpec> specs = new ArrayList<>();
        for (int i = 0; i < tools.size(); i++) {
            JsonNode t = tools.get(i);
            String where = "tools[" + i + "]";
            String type = t.path("type").asText("");
            if (!type.equals("function")) {
                throw Refusal.invalid(
                        where + ".type", "Tool type '" + type + "' is not supported; only function tools are.");
            }
            String name = t.path("name").asText("");
            if (!TOOL_NAME.matcher(name).matches()) {
                throw Refusal.invalid(
                        where + ".name", "Invalid '" + where + ".name': expected 1-64 letters, digits, '_' or '-'.");
            }
            JsonNode parameters = t.get("parameters");
            if (parameters != null && !parameters.isNull() && !parameters.isObject()) {
                throw Refusal.invalid(
                        where + ".parameters", "Invalid '" + where + ".parameters': expected a JSON Schema object.");
            }
            specs.add(new ToolSpec(
                    name,
                    t.hasNonNull("description") ? t.get("description").asText() : null,
                    parameters == null || parameters.isNull() ? null : parameters,
                    t.hasNonNull("strict") ? t.get("strict").asBoolean() : null));
        }
        return specs;
    }

    private static JsonNode toolChoice(JsonNode choice, List<ToolSpec> tools) {
        if (choice == null || choice.isNull()) {
            return null;
        }
        if (choice.isTextual() && TOOL_CHOICES.contains(choice.asText())) {
            if (choice.asText().equals("required") && tools.isEmpty()) {
                throw Refusal.invalid(
                        "tool_choice", "Tool choice 'required' must be specified with a non-empty 'tools' parameter.");
            }
            return choice;
        }
        if (choice.isObject()
                && choice.path("type").asText().equals("function")
                && choice.path("name").isTextual()) {
            String name = choice.get("name").asText();
            if (tools.stream().noneMatch(t -> t.name().equals(name))) {
                throw Refusal.invalid(
                        "tool_choice", "Tool choice function '" + name + "' is not among the functions in 'tools'.");
            }
            return choice;
        }
        throw Refusal.invalid(
                "tool_choice",
                "Invalid 'tool_choice': expected 'auto', 'none', 'required' or {\"type\": \"function\", \"name\": ...}.");
    }

    private static Integer maxOutputTokens(JsonNode value) {
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isIntegralNumber() || value.asLong() < 1 || value.asLong() > Integer.MAX_VALUE) {
            throw Refusal.invalid("max_output_tokens", "Invalid 'max_output_tokens': expected a positive integer.");
        }
        return value.asInt();
    }

    static ObjectNode metadata(JsonNode value) {
        if (value == null || value.isNull()) {
            return Json.object();
        }
        if (!value.isObject() || value.size() > 16) {
            throw Refusal.invalid("metadata", "Invalid 'metadata': expected an object of at most 16 string values.");
        }
        for (var e : value.properties()) {
            if (e.getKey().length() > 64
                    || !e.getValue().isTextual()
                    || e.getValue().asText().length() > 512) {
                throw Refusal.invalid(
                        "metadata",
                        "Invalid 'metadata." + e.getKey()
                                + "': keys are at most 64 characters and values strings of at most 512.");
            }
        }
        return (ObjectNode) value;
    }

    static String string(JsonNode body, String field, String fallback) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isTextual()) {
            throw typeError(field, "a string", v);
        }
        return v.asText();
    }

    static boolean bool(JsonNode body, String field, boolean fallback) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw typeError(field, "a boolean", v);
        }
        return v.asBoolean();
    }

    private static Double number(JsonNode body, String field, double min, double max) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber()) {
            throw typeError(field, "a number", v);
        }
        if (v.asDouble() < min || v.asDouble() > max) {
            throw Refusal.invalid(
                    field, "Invalid '" + field + "': " + v.asDouble() + " is outside [" + min + ", " + max + "].");
        }
        return v.asDouble();
    }

    private static Refusal typeError(String field, String expected, JsonNode got) {
        return Refusal.invalid(
                field,
                "Invalid type for '" + field + "': expected " + expected + ", but got " + kind(got) + " instead.");
    }

    static String kind(JsonNode v) {
        if (v.isTextual()) {
            return "a string";
        }
        if (v.isNumber()) {
            return "a number";
        }
        if (v.isBoolean()) {
            return "a boolean";
        }
        if (v.isArray()) {
            return "an array";
        }
        return v.isObject() ? "an object" : "null";
    }
}
