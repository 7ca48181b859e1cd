package dev.tether.responses;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import java.io.IOException;

/** The Responses layer's one Jackson mapper and its two conversions. */
public final class Json {
    public static final ObjectMapper MAPPER = new ObjectMapper();
    /** Client bodies: one JSON value and nothing after it (streams answer trailing data with 400 too). */
    private static final com.fasterxml.jackson.databind.ObjectReader REQUESTS =
            MAPPER.reader().with(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Json() {}

    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    public static byte[] bytes(JsonNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize a tree of plain nodes", e);
        }
    }

    /** Parses a client's body; malformed JSON is the client's 400. */
    public static JsonNode parseRequest(byte[] data) {
        try {
            JsonNode node = REQUESTS.readTree(data);
            if (node == null || node.isMissingNode()) {
                throw Refusal.invalid(null, "The body is empty; send a JSON object.");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw Refusal.invalid(null, "The body is not valid JSON: " + describe(e));
        } catch (IOException e) {
            throw Refusal.invalid(null, "The body cannot be read as JSON: " + e.getMessage());
        }
    }

    /**
     * What is wrong with some JSON, in the parser's words but without its internals (the
     * {@code [Source: …]} excerpt, feature and constraint class names), plus where.
     */
    public static String describe(JsonProcessingException e) {
        String m = String.valueOf(e.getOriginalMessage());
        if (m.startsWith("Document nesting depth")) {
            m = "it is nested deeper than " + com.fasterxml.jackson.core.StreamReadConstraints.DEFAULT_MAX_DEPTH
                    + " levels";
        } else if (m.contains("exceeds the maximum")) {
            m = m.substring(0, m.indexOf(" (")) + " (too long)";
        }
        for (String cut : new String[] {": enable `", " (from `", "\n at [Source", " at [Source"}) {
            int i = m.indexOf(cut);
            if (i > 0) {
                m = m.substring(0, i);
            }
        }
        m = m.replace('`', '\'').strip();
        if (e.getLocation() != null && e.getLocation().getLineNr() > 0) {
            m += " (line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + ")";
        }
        return m;
    }

    /** Parses stored bytes (written by us, so a failure is corruption, not bad input). */
    static JsonNode parseStored(byte[] data) {
        try {
            return MAPPER.readTree(data);
        } catch (IOException e) {
            throw new IllegalStateException("corrupt stored JSON: " + e.getMessage(), e);
        }
    }
}
