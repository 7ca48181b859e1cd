package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A conversation's current state, materialized from its stream of operations: metadata and the
 * items in order. Item ids are unique within a conversation.
 *
 * <p>Thread-safe: guarded by the instance lock, which {@link Conversations} also holds while it
 * submits the matching append, so the stream's order equals the order of changes here.
 */
public final class Conversation {
    private final String id;
    private final long createdAt;
    private ObjectNode metadata;
    private final Map<String, ObjectNode> items = new LinkedHashMap<>();

    Conversation(String id, long createdAt, ObjectNode metadata) {
        this.id = id;
        this.createdAt = createdAt;
        this.metadata = metadata;
    }

    public String id() {
        return id;
    }

    synchronized void metadata(ObjectNode value) {
        metadata = value;
    }

    synchronized void add(List<ObjectNode> added) {
        for (ObjectNode item : added) {
            items.put(item.get("id").asText(), item);
        }
    }

    synchronized boolean remove(String itemId) {
        return items.remove(itemId) != null;
    }

    public synchronized List<ObjectNode> items() {
        return new ArrayList<>(items.values());
    }

    public synchronized ObjectNode item(String itemId) {
        return items.get(itemId);
    }

    public synchronized ObjectNode toJson() {
        ObjectNode o = Json.object();
        o.put("id", id);
        o.put("object", "conversation");
        o.put("created_at", createdAt);
        o.set("metadata", metadata);
        return o;
    }

    /** Applies one stored operation (on load). */
    void apply(com.fasterxml.jackson.databind.JsonNode op) {
        switch (op.path("op").asText()) {
            case "add" -> {
                List<ObjectNode> added = new ArrayList<>();
                op.path("items").forEach(i -> added.add((ObjectNode) i));
                add(added);
            }
            case "delete_item" -> remove(op.path("item_id").asText());
            case "metadata" -> metadata((ObjectNode) op.get("metadata"));
            default -> {} // "create" is read by the loader; unknown ops come from newer versions
        }
    }
}
