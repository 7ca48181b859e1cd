package dev.tether.inference.upstream;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * One Chat Completions chunk ({@code chat.completion.chunk}), or a whole non-streamed completion,
 * as {@link ChunkReader} uses it. A streamed chunk is read with Jackson's streaming parser straight
 * from the line's UTF-8 bytes, keeping only what the reader uses. Before, each line was decoded to
 * a {@code String} and parsed into a tree (a map per object): on the answers of bench/responses'
 * agent trace that read 1.9 µs a chunk, this 1.2 µs ({@code bench/responses/steps},
 * docs/benchmarks.md). The rarely sent parts ({@code error}, {@code usage}, {@code
 * logprobs}) are kept as trees.
 *
 * <p>A field's value is taken as {@link JsonNode#asText()} took it from the tree: a string's
 * text, another scalar's own text, "" for an object or array; JSON {@code null} counts as absent.
 *
 * @param error   the {@code error} field when present (even null), else null
 * @param choices each choice, in order
 * @param usage   the {@code usage} field, or null
 */
record Chunk(JsonNode error, List<Choice> choices, JsonNode usage) {

    /**
     * One choice: its {@code delta} (a completion's {@code message}), {@code logprobs} and
     * {@code finish_reason}.
     *
     * @param content the text, or null
     * @param calls   its tool calls' fragments, in order
     * @param logprobs the {@code logprobs} field, or null
     * @param finishReason null while the answer goes on
     */
    record Choice(String content, List<CallDelta> calls, JsonNode logprobs, String finishReason) {}

    /**
     * A fragment of a tool call; each field null when absent.
     *
     * @param index the upstream's index of the call, or -1 without a usable one
     */
    record CallDelta(int index, String id, String name, String arguments) {}

    /** Reads a chunk from {@code parser}, which is at its start; a value other than an object is an empty chunk. */
    static Chunk read(JsonParser parser) throws IOException {
        JsonToken first = parser.nextToken();
        if (first != JsonToken.START_OBJECT) {
            if (first != null) {
                parser.skipChildren(); // still fails on malformed JSON, as a tree did
            }
            return new Chunk(null, List.of(), null);
        }
        JsonNode error = null;
        JsonNode usage = null;
        List<Choice> choices = List.of();
        String field;
        while ((field = parser.nextFieldName()) != null) {
            JsonToken value = parser.nextToken();
            switch (field) {
                case "choices" -> choices = choices(parser, value);
                case "error" -> error = parser.readValueAsTree();
                case "usage" -> usage = parser.readValueAsTree();
                default -> parser.skipChildren();
            }
        }
        return new Chunk(error, choices, usage);
    }

    private static List<Choice> choices(JsonParser parser, JsonToken value) throws IOException {
        if (value != JsonToken.START_ARRAY) {
            parser.skipChildren();
            return List.of();
        }
        List<Choice> choices = new ArrayList<>(1);
        JsonToken t;
        while ((t = parser.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.START_OBJECT) {
                parser.skipChildren();
                continue;
            }
            String content = null;
            List<CallDelta> calls = List.of();
            JsonNode logprobs = null;
            String finish = null;
            String field;
            while ((field = parser.nextFieldName()) != null) {
                JsonToken v = parser.nextToken();
                switch (field) {
                    case "delta" -> {
                        if (v != JsonToken.START_OBJECT) {
                            parser.skipChildren();
                            break;
                        }
                        String f;
                        while ((f = parser.nextFieldName()) != null) {
                            JsonToken dv = parser.nextToken();
                            switch (f) {
                                case "content" -> content = text(parser, dv);
                                case "tool_calls" -> calls = calls(parser, dv);
                                default -> parser.skipChildren();
                            }
                        }
                    }
                    case "logprobs" -> logprobs = parser.readValueAsTree();
                    case "finish_reason" -> finish = text(parser, v);
                    default -> parser.skipChildren();
                }
            }
            choices.add(new Choice(content, calls, logprobs, finish));
        }
        return choices;
    }

    private static List<CallDelta> calls(JsonParser parser, JsonToken value) throws IOException {
        if (value != JsonToken.START_ARRAY) {
            parser.skipChildren();
            return List.of();
        }
        List<CallDelta> calls = new ArrayList<>(1);
        JsonToken t;
        while ((t = parser.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.START_OBJECT) {
                parser.skipChildren();
                continue;
            }
            int index = -1;
            String id = null;
            String name = null;
            String arguments = null;
            String field;
            while ((field = parser.nextFieldName()) != null) {
                JsonToken v = parser.nextToken();
                switch (field) {
                    case "index" -> index = index(parser, v);
                    case "id" -> id = text(parser, v);
                    case "function" -> {
                        if (v != JsonToken.START_OBJECT) {
                            parser.skipChildren();
                            break;
                        }
                        String f;
                        while ((f = parser.nextFieldName()) != null) {
                            JsonToken fv = parser.nextToken();
                            switch (f) {
                                case "name" -> name = text(parser, fv);
                                case "arguments" -> arguments = text(parser, fv);
                                default -> parser.skipChildren();
                            }
                        }
                    }
                    default -> parser.skipChildren();
                }
            }
            calls.add(new CallDelta(index, id, name, arguments));
        }
        return calls;
    }

    /** The value's text as the tree's {@code asText()} gave it; null for JSON null. */
    private static String text(JsonParser parser, JsonToken value) throws IOException {
        return switch (value) {
            case VALUE_NULL -> null;
            case START_OBJECT, START_ARRAY -> {
                parser.skipChildren();
                yield "";
            }
            default -> parser.getText();
        };
    }

    /** An integer index (or one written as a string), else -1, as the tree's {@code asInt(default)}. */
    private static int index(JsonParser parser, JsonToken value) throws IOException {
        return switch (value) {
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> parser.getValueAsInt();
            case VALUE_STRING -> {
                try {
                    yield Integer.parseInt(parser.getText().trim());
                } catch (NumberFormatException e) {
                    yield -1;
                }
            }
            case START_OBJECT, START_ARRAY -> {
                parser.skipChildren();
                yield -1;
            }
            default -> -1;
        };
    }

    /** A whole completion's tree ({@code choices[0].message}, {@code usage}), as a chunk. */
    static Chunk of(JsonNode completion) {
        JsonNode choice = completion.path("choices").path(0);
        JsonNode message = choice.path("message");
        List<CallDelta> calls = new ArrayList<>();
        int i = 0;
        for (JsonNode call : message.path("tool_calls")) {
            JsonNode function = call.path("function");
            calls.add(
                    new CallDelta(i++, nonNull(call, "id"), nonNull(function, "name"), nonNull(function, "arguments")));
        }
        return new Chunk(
                null,
                List.of(new Choice(
                        nonNull(message, "content"), calls, choice.get("logprobs"), nonNull(choice, "finish_reason"))),
                completion.get("usage"));
    }

    private static String nonNull(JsonNode node, String field) {
        return node.hasNonNull(field) ? node.get(field).asText() : null;
    }
}
