package dev.tether.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A conversation's current state, materialized from its stream of operations: owner, metadata and
 * the items in order. Item ids are unique within a conversation. A change reaches this state only
 * once its operation is durable in the stream, so memory never shows what a restart would lose.
 *
 * <p>Thread-safe: guarded by the instance lock, which {@link Conversations} also holds while it
 * submits an operation, so operations are appended (and, completing in commit order, applied) in
 * the order they were made.
 */
public final class Conversation {
    private final String id;
    private final String owner;
    private final long createdAt;
    private ObjectNode metadata;
    private final Map<String, ObjectNode> items = new LinkedHashMap<>();
    /** Completes when every operation submitted so far has been applied (or has failed). */
    private CompletableFuture<Void> settled = CompletableFuture.completedFuture(null);

    Conversation(String id, String owner, long createdAt, ObjectNode metadata) {
        this.id = id;
        this.owner = owner;
        this.createdAt = createdAt;
        this.metadata = metadata;
    }

    public String id() {
        return id;
    }

    String owner() {
        return owner;
    }

    /**
     * Runs {@code append} (which submits the operation) under the lock and applies {@code change}
     * once it is durable; the returned stage fails, and nothing changes, if the append fails.
     */
    synchronized CompletionStage<Void> change(
            java.util.function.Supplier<CompletionStage<Void>> append, Runnable change) {
        CompletableFuture<Void> applied = append.get()
                .thenRun(() -> {
                    synchronized (this) {
                        change.run();
                    }
                })
                .toCompletableFuture();
        CompletableFuture<Void> done = applied.handle((v, e) -> null);
        // Only what is still pending is chained: a settled past is not kept alive change after change.
        settled = settled.isDone() ? done : CompletableFuture.allOf(settled, done);
        return applied;
    }

    /** This conversation once every change submitted so far has been applied: read-your-writes. */
    synchronized CompletionStage<Conversation> settled() {
        return settled.thenApply(v -> this);
    }

    synchronized void metadata(ObjectNode value) {
        metadata = value;
    }

    synchronized void add(List<ObjectNode> added) {
        for (ObjectNode item : added) {
            items.put(item.get("id").asText(), item);
        }
    }

    synchronized boolean has(String itemId) {
        return items.containsKey(itemId);
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

    /**
     * Applies one stored operation (on load).
     *
     * @throws IllegalStateException when the operation is malformed (a corrupt stream)
     */
    void apply(JsonNode op) {
        switch (op.path("op").asText()) {
            case "add" -> {
                List<ObjectNode> added = new ArrayList<>();
                for (JsonNode i : op.path("items")) {
                    if (!(i instanceof ObjectNode item) || !item.path("id").isTextual()) {
                        throw new IllegalStateException("an 'add' operation holds an item without an id");
                    }
                    added.add(item);
                }
                add(added);
            }
            case "delete_item" -> remove(op.path("item_id").asText());
            case "metadata" -> {
                if (!(op.get("metadata") instanceof ObjectNode m)) {
                    throw new IllegalStateException("a 'metadata' operation holds no metadata object");
                }
                metadata(m);
            }
            default -> {} // "create" is read by the loader; unknown ops come from newer versions
        }
    }
}
