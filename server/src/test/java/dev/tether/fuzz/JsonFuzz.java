package dev.tether.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Structure-aware JSON mutation: starts from a valid request body and changes it the way a
 * buggy or hostile client would. Tree mutations keep the JSON valid (wrong types, edge numbers,
 * odd Unicode, long strings, big arrays, missing and unknown keys); what a tree cannot hold
 * (lone surrogate escapes, invalid UTF-8, duplicate keys, {@code 1e309}, deep nesting) goes in as
 * a placeholder that is swapped for raw bytes after serialization; byte mutations then break the
 * document itself (truncation, trailing data, UTF-16, BOM).
 *
 * <p>Not thread-safe; one per generated case.
 */
final class JsonFuzz {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private final Dice d;
    private final List<String> raw = new ArrayList<>();
    private final List<String> names = new ArrayList<>();

    JsonFuzz(Dice d) {
        this.d = d;
    }

    /** Names of the mutations applied, for the case's kind. */
    String applied() {
        return String.join("+", names);
    }

    /** {@code rounds} tree mutations, then maybe one byte-level mutation. */
    byte[] mutate(JsonNode valid, int rounds, double byteLevel) {
        JsonNode doc = valid.deepCopy();
        for (int i = 0; i < rounds; i++) {
            doc = mutateTree(doc);
        }
        byte[] bytes = serialize(doc);
        return d.chance(byteLevel) ? mutateBytes(bytes) : bytes;
    }

    /** A placeholder that serializes as a JSON string and is replaced by {@code text} (Latin-1 = bytes). */
    private String placeholder(String text) {
        raw.add(text);
        return "@@FZ" + (raw.size() - 1) + "@@";
    }

    byte[] serialize(JsonNode doc) {
        String s;
        try {
            s = new String(MAPPER.writeValueAsBytes(doc), StandardCharsets.ISO_8859_1);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        for (int k = raw.size() - 1; k >= 0; k--) {
            String token = "@@FZ" + k + "@@";
            s = s.replace("\"" + token + "\"", raw.get(k)).replace(token, raw.get(k));
        }
        return Text.latin1(s);
    }

    private JsonNode mutateTree(JsonNode doc) {
        List<Slot> slots = new ArrayList<>();
        collect(doc, slots, 0);
        if (slots.isEmpty() || d.chance(0.05)) {
            names.add("root");
            return anyValue();
        }
        Slot slot = d.pick(slots);
        switch (d.below(10)) {
            case 0, 1 -> {
                names.add("type");
                slot.set(anyValue());
            }
            case 2 -> {
                names.add("number");
                slot.set(NODES.textNode(placeholder(Nasty.number(d))));
            }
            case 3 -> {
                names.add("string");
                slot.set(NODES.textNode(Nasty.string(d)));
            }
            case 4 -> {
                names.add("unicode");
                String esc = d.chance(0.5) ? d.pick(Nasty.JSON_ESCAPES) : Text.fromLatin1(d.pick(Nasty.BAD_UTF8));
                slot.set(NODES.textNode("x" + placeholder(esc) + "y"));
            }
            case 5 -> {
                names.add("remove");
                slot.remove();
            }
            case 6 -> {
                names.add("deep");
                int depth = d.pick(50, 500, 1_100, 5_000);
                String open = d.chance(0.5) ? "[" : "{\"a\":";
                String close = open.equals("[") ? "]" : "}";
                slot.set(NODES.textNode(placeholder(open.repeat(depth) + "1" + close.repeat(depth))));
            }
            case 7 -> {
                names.add("many");
                ArrayNode a = NODES.arrayNode();
                JsonNode element = slot.get() == null ? anyValue() : slot.get();
                // at most ~1 MB in all: the point is many elements, not a big body
                int n = Math.min(
                        d.pick(10, 200, 2_000),
                        Math.max(2, 1_000_000 / (element.toString().length() + 1)));
                for (int i = 0; i < n; i++) {
                    a.add(element.deepCopy());
                }
                slot.set(a);
            }
            case 8 -> {
                names.add("dupkey");
                if (slot.parent instanceof ObjectNode o && slot.key != null) {
                    o.set(placeholder("\"" + slot.key + "\""), anyScalar());
                } else {
                    slot.set(anyValue());
                }
            }
            default -> {
                names.add("extra");
                if (slot.parent instanceof ObjectNode o) {
                    o.set(
                            d.pick("x", "", "type", "__proto__", "constructor", "\u0000", "a".repeat(10_000)),
                            anyValue());
                } else if (slot.parent instanceof ArrayNode a) {
                    a.add(anyValue());
                }
            }
        }
        return doc;
    }

    /** A valid JSON value of a random kind (numbers may be raw text such as {@code 1e309}). */
    JsonNode anyValue() {
        return switch (d.below(8)) {
            case 0 -> NODES.nullNode();
            case 1 -> NODES.booleanNode(d.chance(0.5));
            case 2 ->
                NODES.textNode(placeholder(d.pick(Nasty.NUMBERS.stream()
                        .filter(n -> n.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][-+]?[0-9]+)?"))
                        .toList())));
            case 3 -> NODES.textNode(Nasty.string(d));
            case 4 -> NODES.arrayNode();
            case 5 -> NODES.objectNode();
            case 6 -> NODES.arrayNode().add(Nasty.string(d)).add(d.between(-5, 5));
            default -> NODES.objectNode().put(d.word(1, 8), Nasty.string(d));
        };
    }

    private JsonNode anyScalar() {
        return d.chance(0.5) ? NODES.numberNode(d.between(-3, 3)) : NODES.textNode(Nasty.string(d));
    }

    /** Breaks the serialized document. */
    byte[] mutateBytes(byte[] json) {
        String s = Text.fromLatin1(json);
        return switch (d.below(12)) {
            case 0 -> {
                names.add("truncated");
                yield Text.latin1(s.substring(0, json.length == 0 ? 0 : d.below(json.length)));
            }
            case 1 -> {
                names.add("trailing");
                yield Text.latin1(s + d.pick(" x", "}", "]", ",", "{}", "\u0000", " // c"));
            }
            case 2 -> {
                names.add("utf16");
                String text = new String(json, StandardCharsets.UTF_8);
                yield text.getBytes(
                        d.pick(StandardCharsets.UTF_16, StandardCharsets.UTF_16LE, StandardCharsets.UTF_16BE));
            }
            case 3 -> {
                names.add("bom");
                yield WsFrames.concat(new byte[] {(byte) 0xef, (byte) 0xbb, (byte) 0xbf}, json);
            }
            case 4 -> {
                names.add("badutf8");
                yield Nasty.spliceBadUtf8(d, json);
            }
            case 5 -> {
                names.add("empty");
                yield d.pick(new byte[0], Text.latin1(" "), Text.latin1("\r\n"));
            }
            case 6 -> {
                names.add("scalar");
                yield Text.latin1(d.pick("null", "true", "0", "\"x\"", "[]", "[{}]", "1e309", "-", "nul", "NaN"));
            }
            case 7 -> {
                names.add("syntax");
                yield Text.latin1(
                        s.replaceFirst(d.pick(",", ":", "\"", "\\{", "\\}"), d.pick("", ",,", "'", "\\\\", "/**/")));
            }
            case 8 -> {
                names.add("junk");
                yield d.bytes(d.between(1, 64));
            }
            case 9 -> {
                names.add("wrapped");
                yield Text.latin1("[" + s + "," + s + "]");
            }
            case 10 -> {
                names.add("nul");
                yield Text.latin1(s.replaceFirst("\"", "\"\u0000"));
            }
            default -> {
                names.add("comment");
                yield Text.latin1("/* c */" + s);
            }
        };
    }

    private void collect(JsonNode node, List<Slot> out, int depth) {
        if (depth > 6 || out.size() > 200) {
            return;
        }
        if (node instanceof ObjectNode o) {
            for (String key :
                    o.properties().stream().map(java.util.Map.Entry::getKey).toList()) {
                out.add(new Slot(o, key, -1));
                collect(o.get(key), out, depth + 1);
            }
        } else if (node instanceof ArrayNode a) {
            for (int i = 0; i < a.size(); i++) {
                out.add(new Slot(a, null, i));
                collect(a.get(i), out, depth + 1);
            }
        }
    }

    /** A place in the tree: a key of an object or an index of an array. */
    private record Slot(JsonNode parent, String key, int index) {
        JsonNode get() {
            return parent instanceof ObjectNode o ? o.get(key) : ((ArrayNode) parent).get(index);
        }

        void set(JsonNode value) {
            if (parent instanceof ObjectNode o) {
                o.set(key, value);
            } else {
                ((ArrayNode) parent).set(index, value);
            }
        }

        void remove() {
            if (parent instanceof ObjectNode o) {
                o.remove(key);
            } else {
                ((ArrayNode) parent).remove(index);
            }
        }
    }
}
