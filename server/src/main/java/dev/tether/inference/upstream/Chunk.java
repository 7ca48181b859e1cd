package dev.tether.inference.upstream;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.NumberInput;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * One Chat Completions chunk ({@code chat.completion.chunk}), or a whole non-streamed completion,
 * as {@link ChunkReader} uses it. A streamed chunk is read with Jackson's streaming parser straight
 * from the line's UTF-8 bytes, keeping only what the reader uses. Before, each line was decoded to
 * a {@code String} and parsed into a tree (a map per object): on the answers of bench/responses'
 * agent trace that read 2.6–2.8 µs a chunk, this 0.8–1.7 µs ({@code bench/responses/steps},
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
     * @param index the upstream's index of the call, or null without a usable one
     */
    record CallDelta(Integer index, String id, String name, String arguments) {}

    /** Reads a chunk from {@code parser}, which is at its start; a value other than an object is an empty chunk. */
    static Chunk read(JsonParser parser) throws IOException {
        Parts chunk = new Parts();
        fields(parser, parser.nextToken(), (field, value) -> {
            switch (field) {
                case "choices" -> elements(parser, value, () -> chunk.choices.add(choice(parser)));
                case "error" -> chunk.error = parser.readValueAsTree();
                case "usage" -> chunk.usage = parser.readValueAsTree();
                default -> parser.skipChildren();
            }
        });
        return new Chunk(chunk.error, chunk.choices, chunk.usage);
    }

    /** A choice, the parser at its start. */
    private static Choice choice(JsonParser parser) throws IOException {
        Parts choice = new Parts();
        fields(parser, parser.currentToken(), (field, value) -> {
            switch (field) {
                case "delta" ->
                    fields(parser, value, (f, v) -> {
                        switch (f) {
                            case "content" -> choice.text = text(parser, v);
                            case "tool_calls" -> elements(parser, v, () -> choice.calls.add(call(parser)));
                            default -> parser.skipChildren();
                        }
                    });
                case "logprobs" -> choice.logprobs = parser.readValueAsTree();
                case "finish_reason" -> choice.finish = text(parser, value);
                default -> parser.skipChildren();
            }
        });
        return new Choice(choice.text, choice.calls, choice.logprobs, choice.finish);
    }

    /** A tool call's fragment, the parser at its start. */
    private static CallDelta call(JsonParser parser) throws IOException {
        Parts call = new Parts();
        fields(parser, parser.currentToken(), (field, value) -> {
            switch (field) {
                case "index" -> call.index = index(parser, value);
                case "id" -> call.id = text(parser, value);
                case "function" ->
                    fields(parser, value, (f, v) -> {
                        switch (f) {
                            case "name" -> call.name = text(parser, v);
                            case "arguments" -> call.text = text(parser, v);
                            default -> parser.skipChildren();
                        }
                    });
                default -> parser.skipChildren();
            }
        });
        return new CallDelta(call.index, call.id, call.name, call.text);
    }

    /** What is read of a chunk, a choice or a call, as it comes. */
    private static final class Parts {
        final List<Choice> choices = new ArrayList<>(1);
        final List<CallDelta> calls = new ArrayList<>(1);
        JsonNode error;
        JsonNode usage;
        JsonNode logprobs;
        String text;
        String finish;
        String id;
        String name;
        Integer index;
    }

    private interface FieldReader {
        /** Reads the field's value, the parser at its first token ({@code value}). */
        void read(String field, JsonToken value) throws IOException;
    }

    private interface ElementReader {
        /** Reads an object element, the parser at its start. */
        void read() throws IOException;
    }

    /** Hands each field of an object to {@code reader}; anything but an object is skipped. */
    private static void fields(JsonParser parser, JsonToken value, FieldReader reader) throws IOException {
        if (value != JsonToken.START_OBJECT) {
            if (value != null) {
                parser.skipChildren(); // an array read to its end, a scalar whole:
                parser.finishToken(); // either fails on malformed JSON, as a tree did
            }
            return;
        }
        String field;
        while ((field = parser.nextFieldName()) != null) {
            reader.read(field, parser.nextToken());
        }
    }

    /** Hands each object element of an array to {@code reader}; other elements, and anything but an array, are skipped. */
    private static void elements(JsonParser parser, JsonToken value, ElementReader reader) throws IOException {
        if (value != JsonToken.START_ARRAY) {
            parser.skipChildren();
            return;
        }
        JsonToken t;
        while ((t = parser.nextToken()) != JsonToken.END_ARRAY) {
            if (t == JsonToken.START_OBJECT) {
                reader.read();
            } else {
                parser.skipChildren();
            }
        }
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

    /**
     * The index as the tree's {@code asInt(default)} read it: a number cut to an int, a boolean as
     * 1 or 0, a string parsed as a number; null (the default) for anything else.
     */
    private static Integer index(JsonParser parser, JsonToken value) throws IOException {
        return switch (value) {
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> parser.getNumberValue().intValue();
            case VALUE_TRUE -> 1;
            case VALUE_FALSE -> 0;
            case VALUE_STRING -> {
                // Jackson's own parse, which takes a default for what it cannot read: with two
                // defaults, the results agree only on a number
                int read = NumberInput.parseAsInt(parser.getText(), 0);
                yield read == NumberInput.parseAsInt(parser.getText(), 1) ? read : null;
            }
            case START_OBJECT, START_ARRAY -> {
                parser.skipChildren();
                yield null;
            }
            default -> null;
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
