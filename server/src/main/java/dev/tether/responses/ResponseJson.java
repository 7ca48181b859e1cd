package dev.tether.responses;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import java.nio.charset.StandardCharsets;

/** Renders the {@code Response} object with every field the spec requires, in a stable order. */
final class ResponseJson {
    private ResponseJson() {}

    static ObjectNode render(ResponseRecord r) {
        return render(r, null);
    }

    /**
     * {@link #render(ResponseRecord)}, with the request's {@code instructions} and {@code tools}
     * taken from {@code echo} (null: rendered here): the same bytes once serialized.
     */
    static ObjectNode render(ResponseRecord r, Echo echo) {
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
        if (echo != null && echo.instructions != null) {
            o.putRawValue("instructions", echo.instructions);
        } else {
            o.put("instructions", p.instructions());
        }
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
        if (echo != null && echo.tools != null) {
            o.putRawValue("tools", echo.tools);
        } else {
            o.set("tools", p.tools());
        }
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

    /**
     * A request's {@code instructions} and {@code tools} as JSON, serialized once and then copied
     * as bytes into each event that echoes them (a run's {@code response.created}, {@code
     * response.in_progress} and terminal event): they are most of those events (10.6 kB of the
     * agent trace's every turn in bench/responses), and escaping them three times a turn was a
     * tenth of the gateway's CPU (docs/benchmarks.md).
     */
    static final class Echo {
        private final RawValue instructions;
        private final RawValue tools;

        private Echo(RawValue instructions, RawValue tools) {
            this.instructions = instructions;
            this.tools = tools;
        }

        static Echo of(ResponseParams p) {
            return new Echo(
                    p.instructions() == null ? null : raw(p.instructions()), p.tools() == null ? null : raw(p.tools()));
        }

        /**
         * The value's JSON as the events' own generator writes it (which escapes characters outside
         * the BMP, where a {@code String} writer would not); the text's UTF-8, those same bytes, is
         * encoded on first use and kept ({@link SerializedString}).
         */
        private static RawValue raw(Object value) {
            try {
                return new RawValue(
                        new SerializedString(new String(Json.MAPPER.writeValueAsBytes(value), StandardCharsets.UTF_8)));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("cannot serialize a string or a tree of plain nodes", e);
            }
        }
    }
}
