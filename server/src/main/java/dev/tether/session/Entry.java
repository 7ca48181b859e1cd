package dev.tether.session;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Objects;

/**
 * One entry of a session's log: a State Protocol change message (SESSIONS.md §1) {@code {type,
 * key, value, headers: {operation, timestamp}}}. The value always carries {@code actor} and
 * {@code at}; the timestamp header repeats {@code at}.
 *
 * @param operation {@code insert}, {@code update}, {@code upsert} or {@code delete}
 */
public record Entry(String type, String key, String operation, ObjectNode value) {
    static final ObjectMapper JSON = new ObjectMapper();

    public Entry {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(operation, "operation");
        Objects.requireNonNull(value, "value");
    }

    public ObjectNode toJson() {
        ObjectNode m = JSON.createObjectNode();
        m.put("type", type);
        m.put("key", key);
        m.set("value", value);
        ObjectNode headers = m.putObject("headers");
        headers.put("operation", operation);
        headers.put("timestamp", value.path("at").asText());
        return m;
    }

    public byte[] encode() {
        try {
            return JSON.writeValueAsBytes(toJson());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize a tree of plain nodes", e);
        }
    }

    /** Parses an entry this server wrote; anything else in the log is corruption. */
    static Entry decode(byte[] data) {
        try {
            JsonNode m = JSON.readTree(data);
            return new Entry(
                    m.path("type").asText(),
                    m.path("key").asText(),
                    m.path("headers").path("operation").asText(),
                    (ObjectNode) m.path("value"));
        } catch (IOException | ClassCastException e) {
            throw new IllegalStateException("a session log entry that is not a change message: " + e.getMessage(), e);
        }
    }

    /**
     * Whether a stored entry is a whisper, without parsing it: the serializer writes the field
     * exactly so, and the same bytes inside a string value would be escaped ({@code \"}).
     */
    public static boolean whisper(byte[] stored) {
        return indexOf(stored, WHISPER) >= 0;
    }

    private static final byte[] WHISPER =
            "\"visibility\":\"operators\"".getBytes(java.nio.charset.StandardCharsets.UTF_8);

    private static int indexOf(byte[] data, byte[] pattern) {
        outer:
        for (int i = 0; i + pattern.length <= data.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (data[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
