package dev.tether.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import dev.tether.inference.ModelBackend;
import dev.tether.stream.StreamDocs;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Conversations: each is a JSON stream {@code conversations/<id>} of operations (create, add
 * items, delete item, set metadata), replayed into a {@link Conversation} on first use and kept in
 * a bounded cache of recently used ones. A conversation belongs to the principal that created it;
 * to anyone else it does not exist. A load that fails is not cached: the next request tries again.
 *
 * <p>Thread-safe.
 */
public final class Conversations {
    private static final System.Logger LOG = System.getLogger(Conversations.class.getName());
    private static final int MAX_ITEMS_PER_CALL = 20;

    private final StreamDocs docs;
    private final InstantSource clock;
    private final ModelBackend backend;
    private final Map<String, CompletableFuture<Conversation>> loaded;

    Conversations(StreamDocs docs, InstantSource clock, int capacity, ModelBackend backend) {
        this.docs = docs;
        this.clock = clock;
        this.backend = backend;
        this.loaded = new LinkedHashMap<>(64, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, CompletableFuture<Conversation>> eldest) {
                return size() > capacity && eldest.getValue().isDone();
            }
        };
    }

    /** Conversations held in memory now (for tests: the cache is bounded). */
    int cached() {
        synchronized (loaded) {
            return loaded.size();
        }
    }

    private static String path(String id) {
        return "conversations/" + id;
    }

    /** {@code POST /v1/conversations}: body {@code {metadata?, items?}}, owned by {@code owner}. */
    public CompletionStage<Conversation> create(JsonNode body, String owner) {
        JsonNode b = body == null || body.isNull() ? Json.object() : body;
        if (!b.isObject()) {
            throw Refusal.invalid(null, "The request body must be a JSON object.");
        }
        ObjectNode metadata = ParamsParser.metadata(b.get("metadata"));
        List<ObjectNode> items = items(b.get("items"));
        String id = Ids.conversation();
        long createdAt = clock.millis() / 1000;
        ObjectNode create =
                Json.object().put("op", "create").put("created_at", createdAt).put("owner", owner);
        create.set("metadata", metadata);
        Conversation c = new Conversation(id, owner, createdAt, metadata);
        c.add(items);
        List<byte[]> ops = items.isEmpty() ? List.of(Json.bytes(create)) : List.of(Json.bytes(create), addOp(items));
        return docs.create(path(id), ops, false).thenApply(v -> {
            synchronized (loaded) {
                loaded.put(id, CompletableFuture.completedFuture(c));
            }
            return c;
        });
    }

    /** The conversation with every change so far applied, or a 404 when unknown or not {@code owner}'s. */
    public CompletionStage<Conversation> get(String id, String owner) {
        if (!Ids.wellFormed(id, "conv_")) {
            return CompletableFuture.failedFuture(notFound(id));
        }
        return load(id).thenCompose(c -> {
            if (!c.owner().equals(owner)) {
                throw notFound(id);
            }
            docs.touch(path(id));
            return c.settled();
        });
    }

    /** The owner of a conversation, for reads of its stream over the raw API; null when unknown. */
    public CompletionStage<String> ownerOf(String id) {
        if (!Ids.wellFormed(id, "conv_")) {
            return CompletableFuture.completedFuture(null);
        }
        return load(id).handle((c, e) -> e == null ? c.owner() : null);
    }

    private CompletionStage<Conversation> load(String id) {
        CompletableFuture<Conversation> mine = new CompletableFuture<>();
        CompletableFuture<Conversation> existing;
        synchronized (loaded) {
            existing = loaded.get(id);
            if (existing != null && existing.isDone() && !docs.exists(path(id))) {
                loaded.remove(id); // expired or deleted since it was cached
                existing = null;
            }
            if (existing == null) {
                loaded.put(id, mine);
            }
        }
        if (existing != null) {
            return existing;
        }
        docs.readAll(path(id)).whenComplete((contents, failure) -> {
            try {
                if (failure != null) {
                    throw failure instanceof RuntimeException r
                            ? r
                            : new java.util.concurrent.CompletionException(failure);
                }
                if (contents == null || contents.messages().isEmpty()) {
                    throw notFound(id);
                }
                mine.complete(replay(id, contents.messages()));
            } catch (RuntimeException e) {
                forget(id, mine);
                mine.completeExceptionally(e);
            }
        });
        return mine;
    }

    private static Conversation replay(String id, List<byte[]> ops) {
        try {
            JsonNode first = Json.parseStored(ops.get(0));
            if (!first.path("op").asText().equals("create") || !(first.get("metadata") instanceof ObjectNode m)) {
                throw new IllegalStateException("its first operation is not a 'create' with metadata");
            }
            Conversation c = new Conversation(
                    id,
                    first.path("owner").asText("anonymous"),
                    first.path("created_at").asLong(),
                    m);
            for (byte[] op : ops.subList(1, ops.size())) {
                c.apply(Json.parseStored(op));
            }
            return c;
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "conversation " + id + " cannot be read: its stream is corrupt", e);
            throw new IllegalStateException("conversation " + id + " is corrupt: " + e.getMessage(), e);
        }
    }

    private void forget(String id, CompletableFuture<Conversation> entry) {
        synchronized (loaded) {
            loaded.remove(id, entry);
        }
    }

    public CompletionStage<Conversation> updateMetadata(Conversation c, JsonNode body) {
        if (body == null || !body.isObject() || !body.has("metadata")) {
            throw Refusal.invalid("metadata", "Missing required parameter: 'metadata'.");
        }
        ObjectNode metadata = ParamsParser.metadata(body.get("metadata"));
        ObjectNode op = Json.object().put("op", "metadata");
        op.set("metadata", metadata);
        return c.change(() -> docs.append(path(c.id()), List.of(Json.bytes(op)), false), () -> c.metadata(metadata))
                .thenApply(v -> c);
    }

    /** Adds items (validated here) in one durable append. */
    public CompletionStage<List<ObjectNode>> addItems(Conversation c, JsonNode body) {
        if (body == null || !body.isObject() || !body.path("items").isArray()) {
            throw Refusal.invalid("items", "Missing required parameter: 'items' (an array of items).");
        }
        List<ObjectNode> items = items(body.get("items"));
        return append(c, items).thenApply(v -> items);
    }

    CompletionStage<Void> append(Conversation c, List<ObjectNode> items) {
        return c.change(() -> docs.append(path(c.id()), List.of(addOp(items)), false), () -> c.add(items));
    }

    public CompletionStage<Conversation> deleteItem(Conversation c, String itemId) {
        if (!c.has(itemId)) {
            throw Refusal.notFound(
                    "item_id", "Item with id '" + itemId + "' not found in conversation " + c.id() + ".");
        }
        ObjectNode op = Json.object().put("op", "delete_item").put("item_id", itemId);
        return c.change(() -> docs.append(path(c.id()), List.of(Json.bytes(op)), false), () -> c.remove(itemId))
                .thenApply(v -> c);
    }

    /** Deletes the conversation's stream and whatever the backend keeps for it. */
    public CompletionStage<Boolean> delete(Conversation c) {
        synchronized (loaded) {
            loaded.remove(c.id());
        }
        if (backend != null) {
            backend.forget(c.id());
        }
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
            throw Refusal.invalid(
                    "items",
                    "At most " + MAX_ITEMS_PER_CALL + " items can be added at once, got " + value.size() + ".");
        }
        return Items.normalize(value == null || value.isNull() ? null : value, "items");
    }

    static Refusal notFound(String id) {
        return Refusal.notFound("conversation", "Conversation with id '" + id + "' not found.");
    }
}
