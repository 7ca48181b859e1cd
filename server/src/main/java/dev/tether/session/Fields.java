package dev.tether.session;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.errors.Refusal;

/** Fields of session request bodies and client frames, with 400s that name the field. */
final class Fields {
    static final int MAX_TEXT = 1 << 20;

    private Fields() {}

    /** A string field; null when absent and not required. */
    static String string(JsonNode body, String field, boolean required) {
        JsonNode v = body == null ? null : body.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw Refusal.invalid(field, "missing required field '" + field + "'");
            }
            return null;
        }
        if (!v.isTextual()) {
            throw Refusal.invalid(field, "'" + field + "' must be a string");
        }
        if (v.asText().length() > MAX_TEXT) {
            throw Refusal.invalid(field, "'" + field + "' is longer than " + MAX_TEXT + " characters");
        }
        return v.asText();
    }
}
