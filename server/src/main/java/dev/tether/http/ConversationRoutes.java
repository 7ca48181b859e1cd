package dev.tether.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.responses.ApiError;
import dev.tether.responses.Conversation;
import dev.tether.responses.Conversations;
import dev.tether.responses.Json;
import dev.tether.responses.Pages;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * {@code /v1/conversations}: create, get, update metadata, delete; items list, add, get, delete.
 *
 * <p>Stateless and shared by all event loops.
 */
final class ConversationRoutes {
    static final String PREFIX = "/v1/conversations";

    private final Conversations conversations;
    private final Bodies.Limit bodyLimit;

    ConversationRoutes(Conversations conversations, Bodies.Limit bodyLimit) {
        this.conversations = conversations;
        this.bodyLimit = bodyLimit;
    }

    void handle(HttpServerRequest req) {
        try {
            route(req);
        } catch (RuntimeException e) {
            ApiErrors.send(req.response(), e);
        }
    }

    private void route(HttpServerRequest req) {
        String rest = req.path().substring(PREFIX.length());
        HttpMethod m = req.method();
        if (rest.isEmpty() || rest.equals("/")) {
            if (m != HttpMethod.POST) {
                throw ResponsesRoutes.methodNotAllowed(m, "POST");
            }
            withBody(req, body -> conversations.create(body).thenApply(Conversation::toJson));
            return;
        }
        String[] parts = rest.substring(1).split("/", -1);
        String id = parts[0];
        if (parts.length == 1) {
            switch (m.name()) {
                case "GET" -> on(req, id, c -> conversations.get(id).thenApply(Conversation::toJson));
                case "POST" ->
                    withBody(req, body -> conversations
                            .get(id)
                            .thenCompose(c -> conversations.updateMetadata(c, body))
                            .thenApply(Conversation::toJson));
                case "DELETE" ->
                    on(req, id, c -> conversations
                            .get(id)
                            .thenCompose(conversations::delete)
                            .thenApply(v -> Json.object()
                                    .put("id", id)
                                    .put("object", "conversation.deleted")
                                    .put("deleted", true)));
                default -> throw ResponsesRoutes.methodNotAllowed(m, "GET, POST or DELETE");
            }
        } else if (parts.length == 2 && parts[1].equals("items")) {
            if (m == HttpMethod.GET) {
                on(req, id, c -> conversations
                        .get(id)
                        .thenApply(conv -> Pages.list(
                                conv.items(), req.getParam("limit"), req.getParam("order"), req.getParam("after"))));
            } else if (m == HttpMethod.POST) {
                withBody(req, body -> conversations
                        .get(id)
                        .thenCompose(c -> conversations.addItems(c, body))
                        .thenApply(ConversationRoutes::itemList));
            } else {
                throw ResponsesRoutes.methodNotAllowed(m, "GET or POST");
            }
        } else if (parts.length == 3 && parts[1].equals("items")) {
            String itemId = parts[2];
            if (m == HttpMethod.GET) {
                on(req, id, c -> conversations.get(id).thenApply(conv -> {
                    ObjectNode item = conv.item(itemId);
                    if (item == null) {
                        throw ApiError.notFound(
                                "item_id", "Item with id '" + itemId + "' not found in conversation " + id + ".");
                    }
                    return item;
                }));
            } else if (m == HttpMethod.DELETE) {
                on(req, id, c -> conversations
                        .get(id)
                        .thenCompose(conv -> conversations.deleteItem(conv, itemId))
                        .thenApply(Conversation::toJson));
            } else {
                throw ResponsesRoutes.methodNotAllowed(m, "GET or DELETE");
            }
        } else {
            throw ApiError.notFound(null, "Unknown endpoint: " + m + " " + req.path() + ".");
        }
    }

    private static ObjectNode itemList(java.util.List<ObjectNode> items) {
        return Pages.list(items, "100", "asc", null); // at most 20 were added, in the order sent
    }

    private static void on(HttpServerRequest req, String id, Function<String, CompletionStage<ObjectNode>> action) {
        ResponsesRoutes.json(req, action.apply(id), 200);
    }

    private void withBody(HttpServerRequest req, Function<JsonNode, CompletionStage<ObjectNode>> action) {
        ResponsesRoutes.withJson(
                req, bodyLimit, Json.object(), json -> ResponsesRoutes.json(req, action.apply(json), 200));
    }
}
