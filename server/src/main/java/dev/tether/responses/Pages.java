package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** OpenAI's cursor lists: {@code limit} (1-100, default 20), {@code order} (default desc), {@code after}. */
public final class Pages {
    private Pages() {}

    public static ObjectNode list(List<ObjectNode> items, String limitParam, String orderParam, String after) {
        int limit = 20;
        if (limitParam != null) {
            try {
                limit = Integer.parseInt(limitParam);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > 100) {
                throw Refusal.invalid(
                        "limit", "Invalid 'limit': expected an integer between 1 and 100, got '" + limitParam + "'.");
            }
        }
        String order = orderParam == null ? "desc" : orderParam;
        if (!order.equals("asc") && !order.equals("desc")) {
            throw Refusal.invalid("order", "Invalid 'order': expected 'asc' or 'desc', got '" + order + "'.");
        }
        List<ObjectNode> ordered = new ArrayList<>(items);
        if (order.equals("desc")) {
            Collections.reverse(ordered);
        }
        int start = 0;
        if (after != null) {
            start = -1;
            for (int i = 0; i < ordered.size(); i++) {
                if (ordered.get(i).path("id").asText().equals(after)) {
                    start = i + 1;
                }
            }
            if (start < 0) {
                throw Refusal.invalid("after", "Invalid 'after': no item with id '" + after + "'.");
            }
        }
        List<ObjectNode> page = ordered.subList(start, Math.min(ordered.size(), start + limit));
        ObjectNode list = Json.object().put("object", "list");
        ArrayNode data = list.putArray("data");
        page.forEach(data::add);
        list.put("first_id", page.isEmpty() ? null : page.get(0).path("id").asText());
        list.put(
                "last_id",
                page.isEmpty() ? null : page.get(page.size() - 1).path("id").asText());
        list.put("has_more", start + page.size() < ordered.size());
        return list;
    }
}
