package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Renders the {@code Response} object with every field the spec requires, in a stable order. */
final class ResponseJson {
    private ResponseJson() {}

    static ObjectNode render(ResponseRecord r) {
        ResponseParams p = r.params();
        ObjectNode o = Json.object();
        o.put("id", r.id());
        o.put("object", "response");
        o.put("created_at", r.createdAt());
        o.put("status", r.status().json());
        o.put("background", p.background());
        o.set("error", r.error());
        if (r.incomplete() == null) {
            o.putNull("incomplete_details");
        } else {
            o.putObject("incomplete_details").put("reason", r.incomplete());
        }
        o.put("instructions", p.instructions());
        o.put("max_output_tokens", p.maxOutputTokens());
        o.put("model", p.model());
        ArrayNode output = o.putArray("output");
        r.output().forEach(output::add);
        o.put("parallel_tool_calls", p.parallelToolCalls() == null || p.parallelToolCalls());
        o.put("previous_response_id", p.previousResponseId());
        if (p.conversationId() == null) {
            o.putNull("conversation");
        } else {
            o.putObject("conversation").put("id", p.conversationId());
        }
        o.put("store", p.store());
        o.put("temperature", p.temperature() == null ? 1.0 : p.temperature());
        if (p.textFormat() != null) {
            o.putObject("text").set("format", p.textFormat());
        } else {
            o.putObject("text").putObject("format").put("type", "text");
        }
        o.set(
                "tool_choice",
                p.toolChoice() == null ? Json.MAPPER.getNodeFactory().textNode("auto") : p.toolChoice());
        o.set("tools", p.tools());
        o.put("top_p", p.topP() == null ? 1.0 : p.topP());
        o.set(
                "top_logprobs",
                p.source().path("top_logprobs").isIntegralNumber() ? p.source().get("top_logprobs") : null);
        o.put("truncation", p.truncateAuto() ? "auto" : "disabled");
        if (p.compactThreshold() != null) {
            o.set("context_management", p.source().get("context_management"));
        }
        o.set("usage", r.usage());
        o.set("metadata", p.metadata());
        o.put("completed_at", r.completedAt());
        return o;
    }

    static ObjectNode usage(long input, long cached, long output) {
        ObjectNode u = Json.object();
        u.put("input_tokens", input);
        u.putObject("input_tokens_details").put("cached_tokens", cached);
        u.put("output_tokens", output);
        u.putObject("output_tokens_details").put("reasoning_tokens", 0);
        u.put("total_tokens", input + output);
        return u;
    }
}
