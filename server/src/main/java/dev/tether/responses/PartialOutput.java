package dev.tether.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * Rebuilds the output of a response that stopped without a terminal event (the process died while
 * it was generated) from its stored events: finished items as they were, items still in progress
 * with every delta a client could have seen, marked {@code incomplete}. A client that watched 300
 * deltas then finds those 300 deltas in the failed response, not an empty output.
 *
 * <p>Stateless.
 */
final class PartialOutput {
    private PartialOutput() {}

    static List<ObjectNode> replay(List<byte[]> events) {
        TreeMap<Integer, ObjectNode> items = new TreeMap<>();
        TreeMap<Integer, StringBuilder> text = new TreeMap<>();
        TreeMap<Integer, Boolean> done = new TreeMap<>();
        for (byte[] raw : events) {
            JsonNode e = Json.parseStored(raw);
            int index = e.path("output_index").asInt(-1);
            if (index < 0) {
                continue;
            }
            switch (e.path("type").asText()) {
                case "response.output_item.added" -> {
                    if (e.get("item") instanceof ObjectNode item) {
                        items.put(index, item.deepCopy());
                    }
                }
                case "response.output_text.delta", "response.function_call_arguments.delta" ->
                    text.computeIfAbsent(index, i -> new StringBuilder())
                            .append(e.path("delta").asText());
                case "response.output_item.done" -> {
                    if (e.get("item") instanceof ObjectNode item) {
                        items.put(index, item);
                        done.put(index, true);
                    }
                }
                default -> {}
            }
        }
        List<ObjectNode> out = new ArrayList<>();
        items.forEach((index, item) -> {
            if (!done.containsKey(index)) {
                interrupted(item, text.getOrDefault(index, new StringBuilder()).toString());
            }
            out.add(item);
        });
        return out;
    }

    private static void interrupted(ObjectNode item, String soFar) {
        item.put("status", "incomplete");
        if (item.path("type").asText().equals("function_call")) {
            item.put("arguments", soFar);
        } else if (item.path("type").asText().equals("message")) {
            item.putArray("content").add(Items.textPart("output_text", soFar));
        }
    }
}
