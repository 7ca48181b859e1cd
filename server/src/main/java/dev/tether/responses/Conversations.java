package dev.tether.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Conversations: each is a JSON stream {@code conversations/<id>} of operations (create, add
 * items, delete item, set metadata), replayed into a {@link Conversation} on first use and
 * kept in memory afterwards.
 *
 * <p>Thread-safe.
 */
public final class Conversations {
    private static final int MAX_ITEMS_PER_CALL = 20;

    private final StreamDocs docs;
    private final InstantSource clock;
    private final Map<String, CompletableFuture<Conversation>> loaded = new ConcurrentHashMap<>();

    Conversations(StreamDocs docs, InstantSource clock) {
        this.docs = docs;
        this.clock = clock;
    }

    private static String path(String id) {
        return "conversations/" + id;
    }

    /** {@code POST /v1/conversations}: body {@code {metadata?, items?}}. */
    public CompletionStage<Conversation> create(JsonNode body) {
        JsonNode b = body == null || body.isNull() ? Json.object() : body;
        if (!b.isObject()) {
            throw ApiError.invalid(null, "The request body must be a JSON object.");
        }
        ObjectNode metadata = ParamsParser.metadata(b.get("metadata"));
        List<ObjectNode> items = items(b.get("items"));
        String id = Ids.conversation();
        long createdAt = clock.millis() / 1000;
        ObjectNode create = Json.object().put("op", "create").put("created_at", createdAt);
        create.set("metadata", metadata);
        Conversation c = new Conversation(id, createdAt, metadata);
        c.add(items);
        List<byte[]> ops = items.isEmpty() ? List.of(Json.bytes(create)) : List.of(Json.bytes(create), addOp(items));
        return docs.create(path(id), ops, false).thenApply(v -> {
            loaded.put(id, CompletableFuture.completedFuture(c));
            return c;
        });
    }

    /** The conversation, or a 404 {@link ApiError}. */
    public CompletionStage<Conversation> get(String id) {
        if (!Ids.wellFormed(id, "conv_")) {
            return CompletableFuture.failedFuture(notFound(id));
        }
        CompletableFuture<Conversation> mine = new CompletableFuture<>();
        CompletableFuture<Conversation> existing = loaded.putIfAbsent(id, mine);
        if (existing != null) {
            return existing;
        }
        docs.readAll(path(id)).whenComplete((contents, failure) -> {
            if (failure != null || contents == null || contents.messages().isEmpty()) {
                loaded.remove(id, mine);
                mine.completeExceptionally(failure != null ? failure : notFound(id));
                return;
            }
            JsonNode first = Json.parseStored(contents.messages().get(0));
            Conversation c =
                    new Conversation(id, first.path("created_at").asLong(), (ObjectNode) first.get("metadata"));
            for (byte[] op : contents.messages().subList(1, contents.messages().size())) {
                c.apply(Json.parseStored(op));
            }
            mine.complete(c);
        });
        return mine;
    }

    public CompletionStage<Conversation> updateMetadata(Conversation c, JsonNode body) {
        if (body == null || !body.isObject() || !body.has("metadata")) {
            throw ApiError.invalid("metadata", "Missing required parameter: 'metadata'.");
        }
        ObjectNode metadata = ParamsParser.metadata(body.get("metadata"));
        synchronized (c) {
            c.metadata(metadata);
            ObjectNode op = Json.object().put("op", "metadata");
            op.set("metadata", metadata);
            return docs.append(path(c.id()), List.of(Json.bytes(op)), false).thenApply(v -> c);
        }
    }

    /** Adds items (validated by the caller or here) in one durable append. */
    public CompletionStage<List<ObjectNode>> addItems(Conversation c, JsonNode body) {
        if (body == null || !body.isObject() || !body.path("items").isArray()) {
            throw ApiError.invalid("items", "Missing required parameter: 'items' (an array of items).");
        }
        List<ObjectNode> items = items(body.get("items"));
        return append(c, items).thenApply(v -> items);
    }

    CompletionStage<Void> append(Conversation c, List<ObjectNode> items) {
        synchronized (c) {
            c.add(items);
            return docs.append(path(c.id()), List.of(addOp(items)), false);
        }
    }

    public CompletionStage<Conversation> deleteItem(Conversation c, String itemId) {
        synchronized (c) {
            if (!c.remove(itemId)) {
                throw ApiError.notFound(
                        "item_id", "Item with id '" + itemId + "' not found in conversation " + c.id() + ".");
            }
            ObjectNode op = Json.object().put("op", "delete_item").put("item_id", itemId);
            return docs.append(path(c.id()), List.of(Json.bytes(op)), false).thenApply(v -> c);
        }
    }

    public CompletionStage<Boolean> delete(Conversation c) {
        loaded.remove(c.id());
        return docs.delete(path(c.id()));
    }

    private static byte[] addOp(List<ObjectNode> items) {
        ObjectNode op = Json.object().put("op", "add");
        ArrayNode array = op.putArray("items");
        items.forEach(array::add);
        return Json.bytes(op);
    }

    private static List<ObjectNode> items(JsonNode value) {
        if (value != null && value.isArray() && value.size() > MAX_ITEMS_PER_CALL) {
            throw ApiError.invalid(
                    "items",
                    "At most " + MAX_ITEMS_PER_CALL + " items can be added at once, got " + value.size() + ".");
        }
        return Items.normalize(value == null || value.isNull() ? null : value, "items");
    }

    static ApiError notFound(String id) {
        return ApiError.notFound("conversation", "Conversation with id '" + id + "' not found.");
    }
}
