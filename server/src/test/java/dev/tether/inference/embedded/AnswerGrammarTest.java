package dev.tether.inference.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.inference.ChatMessage;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelSink;
import dev.tether.inference.ToolSpec;
import dev.tether.inference.embedded.llama.LlamaException;
import dev.tether.inference.embedded.llama.LlamaGrammar;
import dev.tether.inference.embedded.llama.LlamaModel;
import dev.tether.testing.TestModels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Grammar-constrained sampling against the tiny model's real vocabulary, with random logits in
 * place of a forward pass: whatever the "model" prefers, the answer must parse and follow the
 * schema. The demo shaping is on, as it is for the demo model, so answers end by themselves.
 */
class AnswerGrammarTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SCHEMA =
            """
            {"type": "object",
             "properties": {
               "city": {"type": "string", "maxLength": 12},
               "unit": {"enum": ["c", "f"]},
               "days": {"type": "integer"},
               "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
               "ok": {"type": "boolean"},
               "note": {"type": ["string", "null"]},
               "where": {"$ref": "#/$defs/point"}},
             "required": ["city", "unit", "days", "tags", "where"],
             "additionalProperties": false,
             "$defs": {"point": {"type": "object",
                                 "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                                 "required": ["lat", "lon"]}}}
            """;

    private static LlamaModel model;
    private static DemoShaping shaping;

    @BeforeAll
    static void load() throws Exception {
        model = LlamaModel.load(TestModels.tiny());
        shaping = DemoShaping.of(model);
    }

    @AfterAll
    static void unload() {
        model.close();
    }

    @Test
    void everyAnswerUnderAJsonSchemaParsesAndFollowsTheSchema() throws Exception {
        ModelRequest request = request(List.of(), null, format("json_schema", JSON.readTree(SCHEMA)));
        for (int seed = 0; seed < 20; seed++) {
            String answer = generate(request, seed, null);
            JsonNode v = JSON.readTree(answer);
            String why = "seed " + seed + ": " + answer;
            assertTrue(v.isObject(), why);
            v.fieldNames()
                    .forEachRemaining(k -> assertTrue(
                            Set.of("city", "unit", "days", "tags", "ok", "note", "where")
                                    .contains(k),
                            "no other keys: " + why));
            assertTrue(v.path("city").isTextual() && v.get("city").asText().length() <= 12, why);
            assertTrue(Set.of("c", "f").contains(v.path("unit").asText()), why);
            assertTrue(v.path("days").isIntegralNumber(), why);
            assertTrue(
                    v.path("tags").isArray()
                            && v.get("tags").size() >= 1
                            && v.get("tags").size() <= 3,
                    why);
            v.get("tags").forEach(t -> assertTrue(t.isTextual(), why));
            assertTrue(!v.has("ok") || v.get("ok").isBoolean(), why);
            assertTrue(
                    !v.has("note") || v.get("note").isTextual() || v.get("note").isNull(), why);
            assertTrue(
                    v.path("where").path("lat").isNumber()
                            && v.path("where").path("lon").isNumber(),
                    why);
        }
    }

    @Test
    void jsonObjectAnswersAreObjects() throws Exception {
        ModelRequest request = request(List.of(), null, format("json_object", null));
        for (int seed = 0; seed < 10; seed++) {
            String answer = generate(request, seed, null);
            assertTrue(JSON.readTree(answer).isObject(), "seed " + seed + ": " + answer);
        }
    }

    @Test
    void aNonAsciiEnumValueIsWrittenInBytesTheDemoShapingWouldBan() throws Exception {
        ModelRequest request =
                request(List.of(), null, format("json_schema", JSON.readTree("{\"enum\": [\"été\", \"hiver\"]}")));
        for (int seed = 0; seed < 5; seed++) {
            String answer = generate(request, seed, null);
            assertTrue(Set.of("été", "hiver").contains(JSON.readTree(answer).asText()), answer);
        }
    }

    @Test
    void aRequiredToolCallNamesAnOfferedToolWithArgumentsOfItsSchema() throws Exception {
        ModelRequest request = request(tools(), JSON.getNodeFactory().textNode("required"), null);
        for (int seed = 0; seed < 10; seed++) {
            List<JsonNode[]> calls = calls(generate(request, seed, null));
            assertFalse(calls.isEmpty(), "seed " + seed + ": at least one call");
            for (JsonNode[] c : calls) checkCall(c[0].asText(), c[1]);
        }
    }

    @Test
    void aNamedToolChoiceCallsThatToolOnceWithoutParallelCalls() throws Exception {
        JsonNode choice = JSON.readTree("{\"type\": \"function\", \"name\": \"search\"}");
        ModelRequest request =
                new ModelRequest("tiny", "s", false, messages(), tools(), choice, false, 1.0, null, 300, null, null);
        for (int seed = 0; seed < 10; seed++) {
            List<JsonNode[]> calls = calls(generate(request, seed, null));
            assertEquals(1, calls.size(), "seed " + seed);
            assertEquals("search", calls.get(0)[0].asText());
            checkCall("search", calls.get(0)[1]);
        }
    }

    @Test
    void toolChoiceDecidesWhichToolsAnAnswerMayCall() throws Exception {
        assertEquals(2, AnswerGrammar.callable(request(tools(), null, null)).size(), "auto: every offered tool");
        assertEquals(
                List.of(),
                AnswerGrammar.callable(request(tools(), JSON.getNodeFactory().textNode("none"), null)),
                "none: no calls are parsed at all");
        ModelRequest named = request(tools(), JSON.readTree("{\"type\": \"function\", \"name\": \"search\"}"), null);
        assertEquals(
                List.of("search"),
                AnswerGrammar.callable(named).stream().map(ToolSpec::name).toList());
    }

    @Test
    void aToolChoiceNamingNoOfferedToolIsRefused() {
        ModelRequest request = request(
                tools(),
                JSON.getNodeFactory().objectNode().put("type", "function").put("name", "nope"),
                null);
        ModelException e = assertThrows(ModelException.class, () -> AnswerGrammar.of(request, model));
        assertEquals(ModelException.Kind.INVALID_REQUEST, e.kind());
    }

    @Test
    void withToolsOnAutoTheTextIsFreeUntilTheModelOpensACallThenTheCallFollowsTheSchema() throws Exception {
        ModelRequest request = request(tools(), null, null);
        for (int seed = 0; seed < 10; seed++) {
            String answer = generate(request, seed, "Let me check. " + ToolCallParser.OPEN);
            assertTrue(answer.startsWith("Let me check. " + ToolCallParser.OPEN), answer);
            List<JsonNode[]> calls = calls(answer);
            assertFalse(calls.isEmpty(), "seed " + seed + ": the opened call was completed: " + answer);
            for (JsonNode[] c : calls) checkCall(c[0].asText(), c[1]);
        }
        Constraint free = AnswerGrammar.of(request, model);
        assertFalse(free.active(), "no grammar before the call opens");
        free.close();
    }

    @Test
    void schemasNoGrammarCanHoldAreTheClientsErrorAndHugeBoundsAreNotExpanded() throws Exception {
        for (String schema : List.of(
                "{\"type\": \"string\", \"maxLength\": -1}",
                "{\"type\": \"array\", \"minItems\": 3, \"maxItems\": 2}",
                "{\"enum\": []}",
                "{\"$ref\": \"#/$defs/a\", \"$defs\": {\"a\": {\"$ref\": \"#/$defs/a\"}}}")) {
            ModelRequest request = request(List.of(), null, format("json_schema", JSON.readTree(schema)));
            ModelException e = assertThrows(ModelException.class, () -> AnswerGrammar.of(request, model), schema);
            assertEquals(ModelException.Kind.INVALID_REQUEST, e.kind(), schema + ": " + e.getMessage());
        }
        String huge = JsonGrammar.forSchema(JSON.readTree("{\"type\": \"string\", \"maxLength\": 1000000}"));
        assertFalse(huge.contains("1000000"), "a bound above 1000 is not expanded into rules: " + huge);
        String kept = JsonGrammar.forSchema(JSON.readTree("{\"type\": \"string\", \"maxLength\": 40}"));
        assertTrue(kept.contains("char{0,40}"), kept);
    }

    @Test
    void llamaCppRefusesABrokenGrammarWithItsReason() {
        LlamaException e =
                assertThrows(LlamaException.class, () -> LlamaGrammar.compile(model, "root ::= undefined-rule"));
        assertTrue(e.getMessage().contains("grammar"), e.getMessage());
    }

    private static void checkCall(String name, JsonNode args) {
        String why = name + " " + args;
        assertTrue(Set.of("get_weather", "search").contains(name), why);
        if (name.equals("get_weather")) {
            assertTrue(args.path("city").isTextual(), why);
            assertTrue(Set.of("c", "f").contains(args.path("unit").asText()), why);
        } else {
            assertTrue(args.path("query").isTextual(), why);
            assertTrue(!args.has("limit") || args.get("limit").isIntegralNumber(), why);
        }
    }

    /**
     * Samples until the end of turn (at most 400 tokens) from random logits. {@code forced}: text
     * the "model" writes first, one character token at a time, before sampling freely.
     */
    private static String generate(ModelRequest request, long seed, String forced) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        ByteArrayBuilder out = new ByteArrayBuilder();
        try (Sampler sampler = new Sampler(1.0, 1.0, seed, shaping, AnswerGrammar.of(request, model))) {
            for (int i = 0; i < 400; i++) {
                float[] logits = new float[model.vocabSize()];
                for (int t = 0; t < logits.length; t++) logits[t] = (float) random.nextGaussian() * 2;
                if (forced != null && i < forced.length()) {
                    int want = charToken(forced.charAt(i));
                    logits[want] = 1000;
                }
                int token = sampler.sample(logits, i);
                assertNotEquals(Sampler.NO_TOKEN, token, "the grammar always leaves a token");
                if (model.isEndOfGeneration(token)) return out.string();
                out.add(model.piece(token));
            }
        }
        throw new AssertionError("no end of turn within 400 tokens: " + out.string());
    }

    private static int charToken(char c) {
        for (int t = 0; t < model.vocabSize(); t++) {
            byte[] p = model.piece(t);
            if (p.length == 1 && p[0] == c) return t;
        }
        throw new AssertionError("no token for " + c);
    }

    /** The calls {@link ToolCallParser} finds in {@code answer}, as [name, arguments]. */
    private static List<JsonNode[]> calls(String answer) throws Exception {
        List<JsonNode[]> calls = new ArrayList<>();
        List<String> names = new ArrayList<>();
        ToolCallParser p = new ToolCallParser(
                new ModelSink() {
                    @Override
                    public void text(String delta) {}

                    @Override
                    public void toolCall(int index, String callId, String name) {
                        names.add(name);
                    }

                    @Override
                    public void toolArguments(int index, String delta) {
                        try {
                            calls.add(new JsonNode[] {
                                JSON.getNodeFactory().textNode(names.get(index)), JSON.readTree(delta)
                            });
                        } catch (java.io.IOException e) {
                            throw new AssertionError("arguments are JSON: " + delta);
                        }
                    }
                },
                Set.of("get_weather", "search"));
        p.text(answer);
        p.finish();
        return calls;
    }

    private static List<ToolSpec> tools() {
        try {
            return List.of(
                    new ToolSpec(
                            "get_weather",
                            null,
                            JSON.readTree("{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"},"
                                    + " \"unit\": {\"enum\": [\"c\", \"f\"]}}, \"required\": [\"city\", \"unit\"]}"),
                            true),
                    new ToolSpec(
                            "search",
                            null,
                            JSON.readTree("{\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\"},"
                                    + " \"limit\": {\"type\": \"integer\"}}, \"required\": [\"query\"]}"),
                            false));
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    private static List<ChatMessage> messages() {
        return List.of(new ChatMessage.User("hi"));
    }

    private static ModelRequest request(List<ToolSpec> tools, JsonNode choice, JsonNode format) {
        return new ModelRequest("tiny", "s", false, messages(), tools, choice, null, 1.0, null, 300, format, null);
    }

    private static JsonNode format(String type, JsonNode schema) {
        var f = JSON.getNodeFactory().objectNode().put("type", type);
        if (schema != null) f.put("name", "answer").set("schema", schema);
        return f;
    }

    /** UTF-8 bytes collected token by token (a character may span tokens). */
    private static final class ByteArrayBuilder {
        private final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();

        void add(byte[] piece) {
            bytes.writeBytes(piece);
        }

        String string() {
            return bytes.toString(StandardCharsets.UTF_8);
        }
    }
}
