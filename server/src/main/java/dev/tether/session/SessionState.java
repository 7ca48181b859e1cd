package dev.tether.session;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The state a session's log materialises to: entries applied in order, insert/update/upsert
 * replacing the entity at (type, key) and delete removing it (State Protocol semantics), exactly
 * as {@code createStreamDB} does on the client. Entities keep their first-insertion order.
 *
 * <p>Not thread-safe: confined to its session's lock, or to one reader building a snapshot.
 */
final class SessionState {
    private final Map<String, LinkedHashMap<String, ObjectNode>> byType = new LinkedHashMap<>();

    void apply(Entry e) {
        LinkedHashMap<String, ObjectNode> entities = byType.computeIfAbsent(e.type(), t -> new LinkedHashMap<>());
        if (e.operation().equals("delete")) {
            entities.remove(e.key());
        } else {
            entities.put(e.key(), e.value());
        }
    }

    /**
     * Forgets the chunks of a run that ended (its record holds the whole text): a live session
     * keeps only what it still needs in memory; the log keeps every chunk.
     */
    void forgetChunks(String runId) {
        Map<String, ObjectNode> chunks = byType.get("chunk");
        if (chunks != null) {
            String prefix = runId + ":";
            chunks.keySet().removeIf(k -> k.startsWith(prefix));
        }
    }

    ObjectNode get(String type, String key) {
        Map<String, ObjectNode> entities = byType.get(type);
        return entities == null ? null : entities.get(key);
    }

    Collection<ObjectNode> all(String type) {
        Map<String, ObjectNode> entities = byType.get(type);
        return entities == null ? List.of() : entities.values();
    }

    /** The entities of {@code type} by key (a live view: do not change it). */
    Map<String, ObjectNode> entities(String type) {
        Map<String, ObjectNode> entities = byType.get(type);
        return entities == null ? Map.of() : java.util.Collections.unmodifiableMap(entities);
    }

    /** Every entity as an {@code insert}: the body of a snapshot. */
    List<Entry> asInserts() {
        List<Entry> out = new ArrayList<>();
        byType.forEach(
                (type, entities) -> entities.forEach((key, value) -> out.add(new Entry(type, key, "insert", value))));
        return out;
    }
}
