package dev.tether.inference.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GBNF grammars (llama.cpp's grammar format) for JSON: any JSON object, or a value of a
 * JSON Schema. What a schema constrains: {@code type} (one or a list), {@code properties} with
 * {@code required} (declared order; required first, then each optional one may follow),
 * {@code additionalProperties} (an object without {@code properties} takes any keys, of the
 * given schema when there is one), {@code items} with {@code minItems} / {@code maxItems},
 * {@code enum}, {@code const}, {@code anyOf} / {@code oneOf}, string {@code minLength} /
 * {@code maxLength} (length and item bounds up to {@link #MAX_BOUND}), and local {@code $ref}s
 * into {@code $defs} or {@code definitions}. A bound that is not a non-negative integer, a
 * minimum above its maximum or an empty {@code enum} is refused ({@link IllegalArgumentException}). Other
 * keywords ({@code pattern}, {@code format}, {@code minimum}, {@code allOf}…) are not enforced:
 * the output is still JSON of the right shape, which is what a grammar can promise cheaply.
 *
 * <p>Not thread-safe; one instance per grammar.
 */
final class JsonGrammar {
    /** The rules every grammar may use, as llama.cpp's own JSON grammars spell them. */
    private static final Map<String, String> PRIMITIVES = Map.ofEntries(
            Map.entry("space", "| \" \" | \"\\n\" [ \\t]{0,20}"),
            Map.entry("boolean", "(\"true\" | \"false\") space"),
            Map.entry("null", "\"null\" space"),
            Map.entry("char", "[^\"\\\\\\x7F\\x00-\\x1F] | [\\\\] ([\"\\\\bfnrt] | \"u\" [0-9a-fA-F]{4})"),
            Map.entry("string", "\"\\\"\" char* \"\\\"\" space"),
            Map.entry("integral-part", "[0] | [1-9] [0-9]{0,15}"),
            Map.entry("decimal-part", "[0-9]{1,16}"),
            Map.entry("integer", "(\"-\"? integral-part) space"),
            Map.entry("number", "(\"-\"? integral-part) (\".\" decimal-part)? ([eE] [-+]? integral-part)? space"),
            Map.entry("value", "object | array | string | number | boolean | null"),
            Map.entry(
                    "object",
                    "\"{\" space ( string \":\" space value (\",\" space string \":\" space value)* )? \"}\" space"),
            Map.entry("array", "\"[\" space ( value (\",\" space value)* )? \"]\" space"));

    /** Which primitives each primitive uses. */
    private static final Map<String, List<String>> USES = Map.ofEntries(
            Map.entry("boolean", List.of("space")),
            Map.entry("null", List.of("space")),
            Map.entry("string", List.of("char", "space")),
            Map.entry("integer", List.of("integral-part", "space")),
            Map.entry("number", List.of("integral-part", "decimal-part", "space")),
            Map.entry("value", List.of("object", "array", "string", "number", "boolean", "null")),
            Map.entry("object", List.of("space", "string", "value")),
            Map.entry("array", List.of("space", "value")));

    private static final int MAX_DEPTH = 64;
    /**
     * Larger length and item bounds are not enforced: llama.cpp b4916 expands {@code {m,n}} into
     * n rules, so a bound of a million would cost seconds and megabytes per request.
     */
    static final int MAX_BOUND = 1000;

    private final Map<String, String> rules = new LinkedHashMap<>();
    private final Map<String, String> refs = new HashMap<>();
    private JsonNode root;

    /** A grammar whose output is one JSON object (the {@code json_object} format). */
    static String anyObject() {
        JsonGrammar g = new JsonGrammar();
        g.define("root", g.use("object"));
        return g.render();
    }

    /** A grammar whose output is one value of {@code schema}. */
    static String forSchema(JsonNode schema) {
        JsonGrammar g = new JsonGrammar();
        g.define("root", g.rule(schema, "value-of"));
        return g.render();
    }

    /**
     * Adds the rules for a value of {@code schema} (whose local {@code $ref}s resolve within it)
     * and returns the name to refer to it by.
     */
    String rule(JsonNode schema, String hint) {
        root = schema;
        refs.clear();
        return visit(schema, hint, 0);
    }

    /** Adds a rule with a fresh name derived from {@code hint}; returns the name. */
    String define(String hint, String body) {
        String name = fresh(hint);
        rules.put(name, body);
        return name;
    }

    /** Makes sure a primitive rule (and those it uses) is in the grammar. */
    String use(String primitive) {
        if (!rules.containsKey(primitive)) {
            rules.put(primitive, PRIMITIVES.get(primitive));
            for (String u : USES.getOrDefault(primitive, List.of())) use(u);
        }
        return primitive;
    }

    /** The grammar so far, one rule per line, {@code root} first. */
    String render() {
        StringBuilder out = new StringBuilder();
        String rootBody = rules.get("root");
        if (rootBody != null) out.append("root ::= ").append(rootBody).append('\n');
        rules.forEach((name, body) -> {
            if (!name.equals("root"))
                out.append(name).append(" ::= ").append(body).append('\n');
        });
        return out.toString();
    }

    /** A GBNF string literal matching exactly {@code text}. */
    static String literal(String text) {
        StringBuilder out = new StringBuilder("\"");
        text.codePoints().forEach(c -> {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) out.append(String.format("\\x%02X", c));
                    else out.appendCodePoint(c);
                }
            }
        });
        return out.append('"').toString();
    }

    private String visit(JsonNode s, String hint, int depth) {
        if (depth > MAX_DEPTH || s == null || !s.isObject()) return use("value"); // `true`, `{}` or too deep
        if (s.has("$ref")) return ref(s.get("$ref").asText(), depth);
        if (s.has("const")) return constant(s.get("const"));
        if (s.has("enum") && s.get("enum").isArray()) return define(hint, alternatives(s.get("enum")));
        for (String key : List.of("anyOf", "oneOf")) {
            if (s.get(key) instanceof com.fasterxml.jackson.databind.node.ArrayNode options && !options.isEmpty()) {
                List<String> names = new ArrayList<>();
                for (int i = 0; i < options.size(); i++) names.add(visit(options.get(i), hint + "-" + i, depth + 1));
                return define(hint, String.join(" | ", names));
            }
        }
        JsonNode type = s.get("type");
        if (type != null && type.isArray()) {
            List<String> names = new ArrayList<>();
            for (JsonNode t : type) names.add(typed(t.asText(), s, hint + "-" + t.asText(), depth));
            return names.isEmpty() ? use("value") : define(hint, String.join(" | ", names));
        }
        String t = type != null ? type.asText() : s.has("properties") ? "object" : s.has("items") ? "array" : "";
        return typed(t, s, hint, depth);
    }

    private String typed(String type, JsonNode s, String hint, int depth) {
        return switch (type) {
            case "object" -> object(s, hint, depth);
            case "array" -> array(s, hint, depth);
            case "string" -> string(s, hint);
            case "integer", "number", "boolean", "null" -> use(type);
            default -> use("value");
        };
    }

    private String object(JsonNode s, String hint, int depth) {
        JsonNode props = s.get("properties");
        if (props == null || !props.isObject() || props.isEmpty()) {
            JsonNode extra = s.get("additionalProperties");
            if (extra == null || !extra.isObject()) return use("object");
            String v = visit(extra, hint + "-value", depth + 1);
            String kv = use("string") + " \":\" space " + v;
            use("space");
            return define(hint, "\"{\" space ( " + kv + " (\",\" space " + kv + ")* )? \"}\" space");
        }
        List<String> required = new ArrayList<>();
        List<String> optional = new ArrayList<>();
        JsonNode req = s.path("required");
        for (Iterator<Map.Entry<String, JsonNode>> it = props.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> p = it.next();
            String kv = literal(jsonString(p.getKey())) + " space \":\" space "
                    + visit(p.getValue(), hint + "-" + slug(p.getKey()), depth + 1);
            boolean isRequired = false;
            for (JsonNode r : req) isRequired |= r.asText().equals(p.getKey());
            (isRequired ? required : optional).add(kv);
        }
        use("space");
        StringBuilder body = new StringBuilder("\"{\" space ");
        if (!required.isEmpty()) {
            body.append(String.join(" \",\" space ", required));
            for (String kv : optional) body.append(" (\",\" space ").append(kv).append(")?");
        } else {
            // Any subset of the optional properties, in declared order: name the first one present.
            List<String> starts = new ArrayList<>();
            for (int i = 0; i < optional.size(); i++) {
                StringBuilder alt = new StringBuilder(optional.get(i));
                for (int j = i + 1; j < optional.size(); j++) {
                    alt.append(" (\",\" space ").append(optional.get(j)).append(")?");
                }
                starts.add(alt.toString());
            }
            body.append("( ").append(String.join(" | ", starts)).append(" )?");
        }
        return define(hint, body.append(" \"}\" space").toString());
    }

    private String array(JsonNode s, String hint, int depth) {
        String item = visit(s.get("items"), hint + "-item", depth + 1);
        int min = bound(s, "minItems", 0);
        int max = bound(s, "maxItems", -1);
        if (max >= 0 && min > max) throw new IllegalArgumentException("minItems " + min + " > maxItems " + max);
        use("space");
        String more = "(\",\" space " + item + ")";
        String list;
        if (max == 0) {
            list = "";
        } else if (min > 0) {
            list = item + " " + more + "{" + (min - 1) + "," + (max < 0 ? "" : String.valueOf(max - 1)) + "}";
        } else {
            list = "( " + item + " " + (max < 0 ? more + "*" : more + "{0," + (max - 1) + "}") + " )?";
        }
        return define(hint, "\"[\" space " + list + " \"]\" space");
    }

    private String string(JsonNode s, String hint) {
        int min = bound(s, "minLength", 0);
        int maxLength = bound(s, "maxLength", -1);
        if (maxLength >= 0 && min > maxLength) {
            throw new IllegalArgumentException("minLength " + min + " > maxLength " + maxLength);
        }
        if (min == 0 && maxLength < 0) return use("string");
        use("char");
        use("space");
        String max = maxLength >= 0 ? String.valueOf(maxLength) : "";
        return define(hint, "\"\\\"\" char{" + min + "," + max + "} \"\\\"\" space");
    }

    /**
     * A length or item bound: {@code absent} when missing or above {@link #MAX_BOUND} (not
     * enforced); refused when it is not a non-negative whole number.
     */
    private static int bound(JsonNode s, String keyword, int absent) {
        JsonNode v = s.get(keyword);
        if (v == null || v.isNull()) return absent;
        if (!v.isIntegralNumber() || v.asLong() < 0) {
            throw new IllegalArgumentException("'" + keyword + "' must be a non-negative integer, got " + v);
        }
        return v.asLong() > MAX_BOUND ? absent : v.asInt();
    }

    private String ref(String ref, int depth) {
        String known = refs.get(ref);
        if (known != null) return known;
        JsonNode target = null;
        if (ref.startsWith("#/")) {
            target = root.at(ref.substring(1));
        }
        if (target == null || target.isMissingNode()) return use("value");
        String name = fresh("ref-" + slug(ref.substring(ref.lastIndexOf('/') + 1)));
        refs.put(ref, name);
        rules.put(name, "value"); // a placeholder, so a recursive reference resolves to this name
        rules.put(name, visit(target, name + "-def", depth + 1));
        return name;
    }

    private String constant(JsonNode value) {
        return literal(value.toString()) + " " + use("space");
    }

    private String alternatives(JsonNode values) {
        use("space");
        List<String> out = new ArrayList<>();
        for (JsonNode v : values) out.add(literal(v.toString()));
        if (out.isEmpty()) throw new IllegalArgumentException("an empty 'enum' allows no value");
        return "(" + String.join(" | ", out) + ") space";
    }

    /** {@code s} as a JSON string literal, quotes included. */
    static String jsonString(String s) {
        return com.fasterxml.jackson.databind.node.TextNode.valueOf(s).toString();
    }

    private static String slug(String s) {
        String out = s.replaceAll("[^A-Za-z0-9-]", "-");
        return out.isEmpty() ? "x" : out;
    }

    private String fresh(String hint) {
        String base = slug(hint);
        String name = base;
        for (int i = 1; rules.containsKey(name) || PRIMITIVES.containsKey(name); i++) name = base + "-" + i;
        return name;
    }
}
