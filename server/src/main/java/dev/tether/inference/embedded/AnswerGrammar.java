package dev.tether.inference.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ToolSpec;
import dev.tether.inference.embedded.llama.LlamaException;
import dev.tether.inference.embedded.llama.LlamaModel;
import java.util.ArrayList;
import java.util.List;

/**
 * Which grammar an answer of the embedded engine follows, from the request's {@code text.format}
 * and {@code tool_choice}:
 *
 * <ul>
 *   <li>{@code tool_choice: "required"} or a named function: one or more Hermes
 *       {@code <tool_call>} blocks (one, with {@code parallel_tool_calls: false}), each naming an
 *       offered tool, with arguments that follow that tool's parameter schema;
 *   <li>{@code text.format} {@code json_object} or {@code json_schema}: that JSON, or the tool
 *       calls above when tools may be called;
 *   <li>tools with {@code tool_choice: "auto"}: free text, but once the model opens a
 *       {@code <tool_call>} the call that follows is held to the same grammar;
 *   <li>otherwise none.
 * </ul>
 *
 * <p>Stateless.
 */
final class AnswerGrammar {
    private AnswerGrammar() {}

    /** The constraint for {@code request}, or null for free text. */
    static Constraint of(ModelRequest request, LlamaModel model) throws ModelException {
        JsonNode choice = request.toolChoice();
        String mode = mode(choice);
        List<ToolSpec> tools = callable(request);
        boolean forced = mode.equals("required") || mode.equals("function");
        if (forced && tools.isEmpty()) {
            throw new ModelException(
                    ModelException.Kind.INVALID_REQUEST,
                    "tool_choice "
                            + (choice.isTextual()
                                    ? "'required'"
                                    : "names '" + choice.path("name").asText() + "'")
                            + " but no such tool is in 'tools'");
        }
        boolean parallel = !Boolean.FALSE.equals(request.parallelToolCalls());
        JsonNode format = request.textFormat();
        String type = format == null ? "text" : format.path("type").asText();
        JsonGrammar g = new JsonGrammar();
        try {
            if (forced) {
                g.define("root", calls(g, tools, parallel));
            } else if (!type.equals("text")) {
                String answer = type.equals("json_schema") ? g.rule(format.get("schema"), "answer") : g.use("object");
                g.define("root", tools.isEmpty() ? answer : answer + " | " + calls(g, tools, parallel));
            } else if (!tools.isEmpty()) {
                String body = body(g, tools);
                String call = g.define("call", JsonGrammar.literal(ToolCallParser.OPEN) + " " + body);
                g.define("root", body + (parallel ? " (space " + call + ")*" : "") + " space");
                return Constraint.afterTrigger(model, g.render(), ToolCallParser.OPEN);
            } else {
                return null;
            }
            return Constraint.always(model, g.render());
        } catch (IllegalArgumentException e) {
            throw new ModelException(
                    ModelException.Kind.INVALID_REQUEST, "the JSON schema cannot be held to: " + e.getMessage());
        } catch (LlamaException e) {
            // Tether's own rules always compile: a refusal comes from what a client's schema made
            // of them, such as a $ref that refers to itself before any value (left recursion).
            boolean clientSchema = type.equals("json_schema") || tools.stream().anyMatch(t -> t.parameters() != null);
            throw new ModelException(
                    clientSchema ? ModelException.Kind.INVALID_REQUEST : ModelException.Kind.UNAVAILABLE,
                    "cannot constrain the answer to the schema: " + e.getMessage());
        }
    }

    /**
     * The tools the answer may call under {@code tool_choice}: all offered ones, only the named
     * one, or none for {@code "none"}.
     */
    static List<ToolSpec> callable(ModelRequest request) {
        String mode = mode(request.toolChoice());
        List<ToolSpec> tools = new ArrayList<>();
        if (!mode.equals("none")) {
            for (ToolSpec t : request.tools()) {
                if (!mode.equals("function")
                        || t.name().equals(request.toolChoice().path("name").asText())) tools.add(t);
            }
        }
        return tools;
    }

    /** {@code auto}, {@code none}, {@code required}, or {@code function} for a named one. */
    private static String mode(JsonNode choice) {
        return choice == null ? "auto" : choice.isTextual() ? choice.asText() : "function";
    }

    /** One or more {@code <tool_call>} blocks (one when not parallel), then optional space. */
    private static String calls(JsonGrammar g, List<ToolSpec> tools, boolean parallel) {
        String call = g.define("call", JsonGrammar.literal(ToolCallParser.OPEN) + " " + body(g, tools));
        return call + (parallel ? " (space " + call + ")*" : "") + " space";
    }

    /** What follows the opening tag: the call's JSON, then the closing tag. */
    private static String body(JsonGrammar g, List<ToolSpec> tools) {
        List<String> named = new ArrayList<>();
        for (ToolSpec t : tools) {
            String args = t.parameters() == null ? g.use("object") : g.rule(t.parameters(), "args-" + t.name());
            named.add(g.define(
                    "tool-" + t.name(),
                    JsonGrammar.literal(JsonGrammar.jsonString(t.name())) + " space \",\" space "
                            + JsonGrammar.literal("\"arguments\"") + " space \":\" space " + args));
        }
        g.use("space");
        return g.define(
                "call-body",
                "space \"{\" space " + JsonGrammar.literal("\"name\"") + " space \":\" space ("
                        + String.join(" | ", named) + ") \"}\" space " + JsonGrammar.literal(ToolCallParser.CLOSE));
    }
}
