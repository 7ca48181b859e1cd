package dev.tether.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import java.util.List;

/**
 * A validated {@code response.steer} frame: new input for the response running on a lane. The
 * running response stops at the next token boundary and ends {@code incomplete} (reason {@code
 * steered}); a successor continues it with this input and the steered request's settings.
 *
 * @param streamId the lane ({@code stream_id}), or null for the default one
 * @param target   the running response it steers ({@code previous_response_id})
 * @param input    the new items, normalized as a {@code response.create} input is ({@link Items})
 *
 * <p>Immutable (its items are never modified).
 */
record Steer(String streamId, String target, List<ObjectNode> input) {

    Steer {
        input = List.copyOf(input);
        if (target == null || input.isEmpty()) {
            throw new IllegalArgumentException("a steer names its target and has input");
        }
    }

    /** Parses a frame, or throws a {@link Refusal} saying which field is wrong and what is accepted. */
    static Steer parse(JsonNode frame) {
        String streamId = null;
        if (frame.has("stream_id")) {
            JsonNode s = frame.get("stream_id");
            if (!s.isTextual() || !SocketSession.STREAM_ID.matcher(s.asText()).matches()) {
                throw Refusal.invalid(
                        "stream_id",
                        "invalid_stream_id",
                        "Invalid 'stream_id': expected 1-256 characters of [A-Za-z0-9_.-].");
            }
            streamId = s.asText();
        }
        JsonNode target = frame.get("previous_response_id");
        if (target == null || !target.isTextual() || target.asText().isEmpty()) {
            throw Refusal.invalid(
                    "previous_response_id",
                    "Missing or invalid 'previous_response_id': a response.steer names the id of the response"
                            + " running on its lane.");
        }
        JsonNode raw = frame.get("input");
        if (raw == null || raw.isNull()) {
            throw invalidInput("input", "Missing required parameter: 'input' (a string or an array of input items).");
        }
        if (raw.isArray() && raw.size() > ParamsParser.MAX_INPUT_ITEMS) {
            throw invalidInput(
                    "input",
                    "Too many input items: " + raw.size() + " (at most " + ParamsParser.MAX_INPUT_ITEMS + ").");
        }
        List<ObjectNode> input;
        try {
            input = Items.normalize(raw, "input");
        } catch (Refusal r) {
            throw invalidInput(r.param(), r.getMessage());
        }
        if (input.isEmpty()) {
            throw invalidInput("input", "Invalid 'input': a steer needs at least one input item.");
        }
        return new Steer(streamId, target.asText(), input);
    }

    private static Refusal invalidInput(String param, String message) {
        return new Refusal(Condition.INVALID, "invalid_input", param, message);
    }

    /** The lane a frame that failed to parse names, when its {@code stream_id} is valid; else null. */
    static String laneOf(JsonNode frame) {
        JsonNode s = frame.path("stream_id");
        return s.isTextual() && SocketSession.STREAM_ID.matcher(s.asText()).matches() ? s.asText() : null;
    }

    /** No response by that id runs on the lane: unknown, on another lane, or already finished. */
    Refusal notRunning() {
        return new Refusal(
                Condition.NOT_FOUND,
                "response_not_found",
                "previous_response_id",
                "No response with id '" + target + "' is running on "
                        + (streamId == null ? "the default lane" : "stream '" + streamId + "'")
                        + " of this connection (unknown, on another lane, or already finished).");
    }

    /** Why the request {@code p} cannot be steered (the spec excludes conversations and compaction), or null. */
    Refusal unsupported(ResponseParams p) {
        if (p.conversationId() == null && !p.source().hasNonNull("context_management")) {
            return null;
        }
        return Refusal.invalid(
                "previous_response_id",
                "steering_not_supported",
                "Response '" + target + "' "
                        + (p.conversationId() != null
                                ? "belongs to conversation " + p.conversationId()
                                : "uses context_management")
                        + ", which cannot be steered; send the input with response.create once it has ended.");
    }

    Refusal tooMany(int max) {
        return new Refusal(
                Condition.RATE_LIMITED,
                "too_many_pending_steers",
                null,
                "Response '" + target + "' already has " + max
                        + " steers waiting to be applied; wait for its successor.");
    }

    /** The target has started a tool call: the client owes its output before any next turn. */
    Refusal callingTools() {
        return new Refusal(
                Condition.CONFLICT,
                "tool_call_in_progress",
                "previous_response_id",
                "Response '" + target + "' is calling tools; it runs to its end. Send the tools' outputs and this"
                        + " input with response.create (previous_response_id) instead.");
    }

    /** Whether {@code ended}'s output holds a tool call. */
    static boolean callsTools(ResponseRecord ended) {
        return ended.output().stream().anyMatch(i -> i.path("type").asText().equals("function_call"));
    }

    /** The target ended failed or cancelled (nothing to continue) before this steer applied. */
    Refusal notApplied(ResponseRecord ended) {
        return new Refusal(
                Condition.CONFLICT,
                "steer_not_applied",
                "previous_response_id",
                "Response '" + target + "' ended "
                        + (ended == null ? "without a result" : ended.status().json())
                        + " before the steer was applied; its input was not used.");
    }

    /** The {@code response.steer.accepted} or {@code .pending} event answering this steer. */
    byte[] answer(String type) {
        ObjectNode event = Json.object().put("type", type);
        if (streamId != null) {
            event.put("stream_id", streamId);
        }
        event.put("previous_response_id", target);
        return Json.bytes(event);
    }

    /**
     * The {@code response.create} frame of the successor of {@code steered}: the steered request's
     * fields (model, instructions, tools, store…) continuing it, with every steer's input in order.
     */
    static ObjectNode successor(ObjectNode steeredFrame, String steeredId, List<Steer> steers) {
        ObjectNode frame = Json.object();
        frame.setAll(steeredFrame);
        frame.put("previous_response_id", steeredId);
        frame.remove("generate"); // a steered warm-up's successor answers
        ArrayNode input = frame.putArray("input");
        for (Steer s : steers) {
            s.input().forEach(input::add);
        }
        return frame;
    }
}
