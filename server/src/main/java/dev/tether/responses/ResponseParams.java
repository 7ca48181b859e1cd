package dev.tether.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.inference.ToolSpec;
import java.util.List;
import java.util.Objects;

/**
 * A validated {@code POST /v1/responses} body (or WebSocket {@code response.create}).
 *
 * @param input      the new items, normalized ({@link Items})
 * @param tools      as sent (echoed back), with {@code toolSpecs} their parsed form
 * @param generate   false for a WebSocket warm-up: prepare state, produce no output
 * @param source     the request's fields other than {@code input}, kept to rebuild this after a restart
 */
public record ResponseParams(
        String model,
        List<ObjectNode> input,
        String instructions,
        String previousResponseId,
        String conversationId,
        boolean store,
        boolean stream,
        boolean background,
        ArrayNode tools,
        List<ToolSpec> toolSpecs,
        JsonNode toolChoice,
        Boolean parallelToolCalls,
        Double temperature,
        Double topP,
        Integer maxOutputTokens,
        ObjectNode metadata,
        boolean generate,
        ObjectNode source) {

    public ResponseParams {
        Objects.requireNonNull(model, "model");
        input = List.copyOf(input);
        toolSpecs = List.copyOf(toolSpecs);
        Objects.requireNonNull(tools, "tools");
        Objects.requireNonNull(metadata, "metadata");
        Objects.requireNonNull(source, "source");
    }

    /**
     * {@code truncation: "auto"}: when the context does not fit the model, the oldest turns are
     * dropped until it does (OpenAI's documented behaviour) instead of the response failing.
     */
    public boolean truncateAuto() {
        return source.path("truncation").asText("disabled").equals("auto");
    }

    /**
     * {@code context_management: [{"type":"compaction","compact_threshold":N}]}: N, the context
     * size in tokens above which the turn compacts its context before generating; null when unset.
     */
    public Integer compactThreshold() {
        return Compaction.threshold(source.get("context_management"));
    }

    /**
     * With {@code include: ["message.output_text.logprobs"]}: how many alternatives to report per
     * token ({@code top_logprobs}, 0 when unset); null when log-probabilities were not asked for.
     */
    public Integer topLogprobs() {
        for (JsonNode v : source.path("include")) {
            if (v.asText().equals(ParamsParser.LOGPROBS))
                return source.path("top_logprobs").asInt(0);
        }
        return null;
    }

    /**
     * The client's {@code text.format} when it asks for JSON ({@code json_object} or
     * {@code json_schema}, checked by the parser), else null.
     */
    public JsonNode textFormat() {
        JsonNode f = source.path("text").path("format");
        return f.isObject() && !f.path("type").asText("text").equals("text") ? f : null;
    }

    /** The same request with {@code extra} added to its metadata (and to the source kept for restarts). */
    public ResponseParams withMetadata(java.util.Map<String, String> extra) {
        if (extra.isEmpty()) {
            return this;
        }
        ObjectNode merged = metadata.deepCopy();
        extra.forEach(merged::put);
        ObjectNode kept = source.deepCopy();
        kept.set("metadata", merged);
        return with(maxOutputTokens, merged, kept);
    }

    /**
     * The same request with the backend's default output limit filled in when it set none, so
     * the response says the limit it ran under (and the source kept for restarts keeps it).
     */
    public ResponseParams withDefaultMaxOutputTokens(Integer limit) {
        if (limit == null || maxOutputTokens != null) {
            return this;
        }
        ObjectNode kept = source.deepCopy();
        kept.put("max_output_tokens", limit);
        return with(limit, metadata, kept);
    }

    /** This request with another output limit, metadata and source (what the {@code with...} methods change). */
    private ResponseParams with(Integer newMaxOutputTokens, ObjectNode newMetadata, ObjectNode newSource) {
        return new ResponseParams(
                model,
                input,
                instructions,
                previousResponseId,
                conversationId,
                store,
                stream,
                background,
                tools,
                toolSpecs,
                toolChoice,
                parallelToolCalls,
                temperature,
                topP,
                newMaxOutputTokens,
                newMetadata,
                generate,
                newSource);
    }
}
