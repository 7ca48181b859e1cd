package dev.tether.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.auth.Operation;
import dev.tether.auth.Principal;
import dev.tether.errors.Refusal;
import dev.tether.responses.Conversation;
import dev.tether.responses.Conversations;
import dev.tether.responses.Json;
import dev.tether.responses.Pages;
import dev.tether.responses.ResponseService;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * {@code /v1/conversations}: create, get, update metadata, delete; items list, add, get, delete.
 * Capabilities on the {@code conversations} resource: {@code create} to create, {@code read} to
 * get and list, {@code append} to add or delete items and change metadata, {@code delete} to
 * delete. A conversation is visible only to the principal that created it.
 *
 * <p>Stateless and shared by all event loops.
 */
final class ConversationRoutes {
    static final String PREFIX = "/v1/conversations";
    static final String RESOURCE = ResponseService.CONVERSATIONS;

    private final Conversations conversations;
    private final Bodies.Limit bodyLimit;

    ConversationRoutes(Conversations conversations, Bodies.Limit bodyLimit) {
        this.conversations = conversations;
        this.bodyLimit = bodyLimit;
    }

    /** Routes one request; what it throws is answered in OpenAI's envelope by {@link HttpRoutes#fail}. */
    void handle(HttpServerRequest req, Principal principal) {
        String rest = req.path().substring(PREFIX.length());
        HttpMethod m = req.method();
        String owner = principal.id();
        if (rest.isEmpty() || rest.equals("/")) {
            if (m != HttpMethod.POST) {
                throw ResponsesRoutes.methodNotAllowed(m, "POST");
            }
            principal.require(RESOURCE, Operation.CREATE);
            withBody(req, body -> conversations.create(body, owner).thenApply(Conversation::toJson));
            return;
        }
        String[] parts = rest.substring(1).split("/", -1);
        String id = parts[0];
        if (parts.length == 1) {
            switch (m.name()) {
                case "GET" -> {
                    principal.require(RESOURCE, Operation.READ);
                    reply(req, conversations.get(id, owner).thenApply(Conversation::toJson));
                }
                case "POST" -> {
                    principal.require(RESOURCE, Operation.APPEND);
                    withBody(req, body -> conversations
                            .get(id, owner)
                            .thenCompose(c -> conversations.updateMetadata(c, body))
                            .thenApply(Conversation::toJson));
                }
                case "DELETE" -> {
                    principal.require(RESOURCE, Operation.DELETE);
                    reply(
                            req,
                            conversations
                                    .get(id, owner)
                                    .thenCompose(conversations::delete)
                                    .thenApply(v -> Json.object()
                                            .put("id", id)
                                            .put("object", "conversation.deleted")
                                            .put("deleted", true)));
                }
                default -> throw ResponsesRoutes.methodNotAllowed(m, "GET, POST or DELETE");
            }
        } else if (parts.length == 2 && parts[1].equals("items")) {
            if (m == HttpMethod.GET) {
                principal.require(RESOURCE, Operation.READ);
                reply(
                        req,
                        conversations
                                .get(id, owner)
                                .thenApply(conv -> Pages.list(
                                        conv.items(),
                                        req.getParam("limit"),
                                        req.getParam("order"),
                                        req.getParam("after"))));
            } else if (m == HttpMethod.POST) {
                principal.require(RESOURCE, Operation.APPEND);
                withBody(req, body -> conversations
                        .get(id, owner)
                        .thenCompose(c -> conversations.addItems(c, body))
                        .thenApply(ConversationRoutes::itemList));
            } else {
                throw ResponsesRoutes.methodNotAllowed(m, "GET or POST");
            }
        } else if (parts.length == 3 && parts[1].equals("items")) {
            String itemId = parts[2];
            if (m == HttpMethod.GET) {
                principal.require(RESOURCE, Operation.READ);
                reply(req, conversations.get(id, owner).thenApply(conv -> {
                    ObjectNode item = conv.item(itemId);
                    if (item == null) {
                        throw Refusal.notFound(
                                "item_id", "Item with id '" + itemId + "' not found in conversation " + id + ".");
                    }
                    return item;
                }));
            } else if (m == HttpMethod.DELETE) {
                principal.require(RESOURCE, Operation.APPEND);
                reply(
                        req,
                        conversations
                                .get(id, owner)
                                .thenCompose(conv -> conversations.deleteItem(conv, itemId))
                                .thenApply(Conversation::toJson));
            } else {
                throw ResponsesRoutes.methodNotAllowed(m, "GET or DELETE");
            }
        } else {
            throw Refusal.notFound(null, "Unknown endpoint: " + m + " " + req.path() + ".");
        }
    }

    private static ObjectNode itemList(java.util.List<ObjectNode> items) {
        return Pages.list(items, "100", "asc", null); // at most 20 were added, in the order sent
    }

    private static void reply(HttpServerRequest req, CompletionStage<ObjectNode> stage) {
        ResponsesRoutes.json(req, stage, 200);
    }

    private void withBody(HttpServerRequest req, Function<JsonNode, CompletionStage<ObjectNode>> action) {
        ResponsesRoutes.withJson(
                req, bodyLimit, Json.object(), json -> ResponsesRoutes.json(req, action.apply(json), 200));
    }
}
