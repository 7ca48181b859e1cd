package dev.tether.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Responses API and Conversations requests: valid bodies built from the documented fields, then
 * structure-aware JSON mutations (most cases) or shared HTTP mutations. Generation stays cheap:
 * valid bodies ask for at most 8 output tokens, and a mutated limit is capped by the server's
 * context size.
 */
final class ResponsesCases {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private ResponsesCases() {}

    static FuzzCase.Http responses(CaseId id, Fixtures fx, Dice d) {
        RequestBuilder r =
                switch (d.below(10)) {
                    case 0, 1, 2, 3, 4 -> {
                        RequestBuilder b = new RequestBuilder("responses.create", "POST", "/v1/responses");
                        yield jsonBody(d, b, createBody(d, fx));
                    }
                    case 5 -> {
                        RequestBuilder b =
                                new RequestBuilder("responses.get", "GET", "/v1/responses/" + id(d, fx.responseId()));
                        if (d.chance(0.5)) {
                            b.param("stream", d.pick("true", "false", "1"));
                            if (d.chance(0.7)) {
                                b.param("starting_after", d.pick("0", "-1", "3", "99999", "x", "-2", "2147483648"));
                            }
                        }
                        yield b;
                    }
                    case 6 ->
                        new RequestBuilder(
                                "responses.delete", "DELETE", "/v1/responses/" + id(d, "resp_" + d.word(8, 8)));
                    case 7 -> {
                        RequestBuilder b = new RequestBuilder(
                                "responses.input_items",
                                "GET",
                                "/v1/responses/" + id(d, fx.responseId()) + "/input_items");
                        pageParams(d, b);
                        yield b;
                    }
                    case 8 ->
                        new RequestBuilder(
                                "responses.cancel", "POST", "/v1/responses/" + id(d, fx.responseId()) + "/cancel");
                    default ->
                        new RequestBuilder(
                                "responses.other",
                                d.pick("GET", "PUT", "PATCH", "DELETE"),
                                d.pick(
                                        "/v1/responses",
                                        "/v1/responses/",
                                        "/v1/responses//x",
                                        "/v1/responses/a/b/c",
                                        "/v1/responses/compact"));
                };
        mutate(d, r);
        return r.build(id);
    }

    static FuzzCase.Http conversations(CaseId id, Fixtures fx, Dice d) {
        String conv = "/v1/conversations/" + id(d, fx.conversationId());
        RequestBuilder r =
                switch (d.below(9)) {
                    case 0, 1 -> {
                        ObjectNode body = NODES.objectNode();
                        if (d.chance(0.6)) {
                            body.putObject("metadata").put("topic", d.word(1, 8));
                        }
                        if (d.chance(0.7)) {
                            body.set("items", items(d, fx, d.between(1, 3)));
                        }
                        yield jsonBody(
                                d, new RequestBuilder("conversations.create", "POST", "/v1/conversations"), body);
                    }
                    case 2 -> new RequestBuilder("conversations.get", "GET", conv);
                    case 3 -> {
                        ObjectNode body = NODES.objectNode();
                        body.putObject("metadata").put("k", d.word(0, 12));
                        yield jsonBody(d, new RequestBuilder("conversations.update", "POST", conv), body);
                    }
                    case 4 ->
                        new RequestBuilder(
                                "conversations.delete", "DELETE", "/v1/conversations/" + id(d, "conv_" + d.word(8, 8)));
                    case 5 -> {
                        RequestBuilder b = new RequestBuilder("conversations.items", "GET", conv + "/items");
                        pageParams(d, b);
                        yield b;
                    }
                    case 6 -> {
                        ObjectNode body = NODES.objectNode();
                        body.set("items", items(d, fx, d.between(1, 3)));
                        yield jsonBody(d, new RequestBuilder("conversations.add", "POST", conv + "/items"), body);
                    }
                    case 7 -> new RequestBuilder("conversations.item", "GET", conv + "/items/" + id(d, fx.itemId()));
                    default ->
                        new RequestBuilder(
                                "conversations.item_delete", "DELETE", conv + "/items/" + id(d, "msg_" + d.word(8, 8)));
                };
        mutate(d, r);
        return r.build(id);
    }

    private static void mutate(Dice d, RequestBuilder r) {
        int rounds = d.chance(0.2) ? 0 : d.between(1, 3);
        boolean jsonBody = r.body.length > 0;
        for (int i = 0; i < rounds; i++) {
            if (jsonBody && d.chance(0.65)) {
                JsonFuzz fuzz = new JsonFuzz(d);
                try {
                    r.body = fuzz.mutate(
                            new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.body), d.between(1, 3), 0.25);
                } catch (java.io.IOException e) {
                    r.body = fuzz.mutateBytes(r.body);
                }
                r.mutated(fuzz.applied());
            } else {
                HttpMutations.any(d, r);
            }
        }
    }

    private static RequestBuilder jsonBody(Dice d, RequestBuilder r, JsonNode body) {
        return r.json(body.toString());
    }

    /** An id: the fixture's, a planted one (whose stream a streams case may have forged), or a nasty one. */
    private static String id(Dice d, String plausible) {
        if (d.chance(0.1)) {
            return plausible.startsWith("conv_") ? Fixtures.PLANTED_CONVERSATION : Fixtures.PLANTED_RESPONSE;
        }
        return d.chance(0.75) ? plausible : Nasty.pathSegment(d);
    }

    private static void pageParams(Dice d, RequestBuilder b) {
        if (d.chance(0.5)) {
            b.param("limit", d.pick("1", "20", "100", "101", "0", "-1", "abc", "1e3", "99999999999"));
        }
        if (d.chance(0.4)) {
            b.param("order", d.pick("asc", "desc", "ASC", "random", ""));
        }
        if (d.chance(0.3)) {
            b.param("after", d.pick("msg_x", "", "%zz", "resp_" + "0".repeat(48)));
        }
    }

    /** A valid create body: a small, cheap request using a random subset of the documented fields. */
    static ObjectNode createBody(Dice d, Fixtures fx) {
        ObjectNode b = NODES.objectNode();
        b.put("model", d.pick("tiny", "gpt-4.1-mini", "m"));
        if (d.chance(0.5)) {
            b.put("input", d.pick("Hi", "Tell me about rivers.", "\u00e9t\u00e9 \ud83d\ude00", " "));
        } else {
            b.set("input", items(d, fx, d.between(1, 4)));
        }
        b.put("max_output_tokens", d.between(1, 8));
        if (d.chance(0.3)) {
            b.put("instructions", d.pick("Be brief.", "You are a pirate.", ""));
        }
        if (d.chance(0.3)) {
            b.put("temperature", d.pick(0.0, 0.7, 2.0));
        }
        if (d.chance(0.2)) {
            b.put("top_p", d.pick(0.1, 1.0));
        }
        if (d.chance(0.3)) {
            b.put("stream", true);
        }
        if (d.chance(0.15)) {
            b.put("store", false);
        } else if (d.chance(0.05)) {
            b.put("background", true);
        }
        if (d.chance(0.2)) {
            ObjectNode tool = b.putArray("tools").addObject();
            tool.put("type", "function").put("name", "get_weather").put("description", "Weather by city");
            tool.putObject("parameters")
                    .put("type", "object")
                    .putObject("properties")
                    .putObject("city")
                    .put("type", "string");
            if (d.chance(0.5)) {
                b.set(
                        "tool_choice",
                        d.chance(0.5)
                                ? NODES.textNode(d.pick("auto", "none", "required"))
                                : NODES.objectNode().put("type", "function").put("name", "get_weather"));
            }
            if (d.chance(0.3)) {
                b.put("parallel_tool_calls", d.chance(0.5));
            }
        }
        if (d.chance(0.2)) {
            b.putObject("metadata").put("trace", d.word(1, 10));
        }
        if (d.chance(0.15)) {
            b.put("previous_response_id", d.chance(0.8) ? fx.responseId() : Fixtures.PLANTED_RESPONSE);
        } else if (d.chance(0.08) && !b.path("store").isBoolean()) {
            b.put("conversation", d.chance(0.8) ? fx.conversationId() : Fixtures.PLANTED_CONVERSATION);
        }
        return b;
    }

    /** Input items of every documented kind (the function pair kept consistent most of the time). */
    static ArrayNode items(Dice d, Fixtures fx, int n) {
        ArrayNode a = NODES.arrayNode();
        for (int i = 0; i < n; i++) {
            switch (d.below(6)) {
                case 0 -> a.addObject().put("role", "user").put("content", "hello " + d.word(1, 5));
                case 1 -> {
                    ObjectNode m =
                            a.addObject().put("type", "message").put("role", d.pick("user", "system", "developer"));
                    m.putArray("content").addObject().put("type", "input_text").put("text", "text " + d.word(1, 5));
                }
                case 2 -> {
                    ObjectNode m = a.addObject().put("type", "message").put("role", "assistant");
                    m.putArray("content").addObject().put("type", "output_text").put("text", "ok");
                }
                case 3 -> {
                    String call = "call_" + d.word(4, 4);
                    a.addObject()
                            .put("type", "function_call")
                            .put("call_id", call)
                            .put("name", "get_weather")
                            .put("arguments", "{\"city\":\"Paris\"}");
                    if (d.chance(0.8)) {
                        a.addObject()
                                .put("type", "function_call_output")
                                .put("call_id", call)
                                .put("output", "sunny");
                    }
                }
                case 4 -> a.addObject().put("type", "reasoning").putArray("summary");
                default ->
                    a.addObject().put("role", "user").put("content", d.pick("", " ", "\u0000", "x".repeat(2_000)));
            }
        }
        return a;
    }
}
