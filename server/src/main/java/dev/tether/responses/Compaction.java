package dev.tether.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The {@code compaction} item (OpenAI reference §1.3) and what it means for a context: a
 * model-written summary that stands for the items it compacted. Its {@code encrypted_content} is
 * {@value #VERSION} followed by the base64url (no padding) of {@code
 * {"summary":"…","through":"<id>"}}: the summary, and the id of the last item it compacted, so a
 * chain that still holds those items (automatic compaction) can leave them out. It is an encoding,
 * not a seal: a client can read and forge it, which tells the model no more than a system
 * message it could send anyway.
 *
 * <p>Also parses {@code context_management}. Stateless.
 */
final class Compaction {
    static final String TYPE = "compaction";
    static final String VERSION = "tether.v1.";
    /** What the model sees in place of the compacted items. */
    static final String SUMMARY_PREFIX = "Summary of the earlier conversation: ";
    /** OpenAI's lower bound on {@code compact_threshold}. */
    static final int MIN_THRESHOLD = 1000;

    private Compaction() {}

    /** A decoded {@code encrypted_content}; {@code through} is null when it replaces all before it. */
    record Content(String summary, String through) {}

    /** A new compaction item holding {@code summary} of the items up to and including {@code through}. */
    static ObjectNode item(String summary, String through) {
        ObjectNode content = Json.object().put("summary", summary);
        if (through != null) {
            content.put("through", through);
        }
        String encoded = VERSION + Base64.getUrlEncoder().withoutPadding().encodeToString(Json.bytes(content));
        return Json.object().put("id", Ids.compaction()).put("type", TYPE).put("encrypted_content", encoded);
    }

    /** An input {@code compaction} item, checked and in canonical shape; {@code where} is e.g. {@code input[2]}. */
    static ObjectNode normalize(JsonNode item, String where) {
        JsonNode content = item.get("encrypted_content");
        if (content == null || !content.isTextual()) {
            throw Refusal.invalid(
                    where + ".encrypted_content",
                    "Missing required parameter: '" + where + ".encrypted_content' (a string).");
        }
        if (decode(content.asText()) == null) {
            throw Refusal.invalid(
                    where + ".encrypted_content",
                    "Invalid '" + where + ".encrypted_content': not a compaction this server produced (send the"
                            + " item exactly as /v1/responses/compact or a compacting response returned it).");
        }
        return Json.object()
                .put("id", item.hasNonNull("id") ? item.get("id").asText() : Ids.compaction())
                .put("type", TYPE)
                .put("encrypted_content", content.asText());
    }

    /** The content of a normalized item (checked when it entered the server). */
    static Content content(ObjectNode item) {
        Content c = decode(item.path("encrypted_content").asText());
        if (c == null) {
            throw new IllegalStateException("compaction item " + item.path("id").asText() + " was not validated");
        }
        return c;
    }

    /** {@code encrypted_content} decoded, or null when it is not one of ours. */
    static Content decode(String encrypted) {
        if (!encrypted.startsWith(VERSION)) {
            return null;
        }
        try {
            byte[] json = Base64.getUrlDecoder().decode(encrypted.substring(VERSION.length()));
            JsonNode c = Json.MAPPER.readTree(new String(json, StandardCharsets.UTF_8));
            if (c == null || !c.path("summary").isTextual()) {
                return null;
            }
            JsonNode through = c.get("through");
            if (through != null && !through.isTextual()) {
                return null;
            }
            return new Content(c.get("summary").asText(), through == null ? null : through.asText());
        } catch (IllegalArgumentException | java.io.IOException e) {
            return null;
        }
    }

    /**
     * The items a backend sees for a context: from the latest compaction item on, with the items
     * it compacted left out. Items after the last compacted one and before the compaction item
     * (the turn kept verbatim when a response compacted its own context) stay, after it, unless
     * they are sent again after it (a compacted window replayed onto its own chain). Idempotent.
     */
    static List<ObjectNode> window(List<ObjectNode> items) {
        int c = items.size() - 1;
        while (c >= 0 && !items.get(c).path("type").asText().equals(TYPE)) {
            c--;
        }
        if (c < 0) {
            return items;
        }
        String through = content(items.get(c)).through();
        int cut = c;
        for (int i = c - 1; through != null && i >= 0; i--) {
            if (through.equals(items.get(i).path("id").asText(null))) {
                cut = i;
                break;
            }
        }
        Set<String> later = new HashSet<>();
        for (ObjectNode i : items.subList(c + 1, items.size())) {
            later.add(i.path("id").asText());
        }
        List<ObjectNode> window = new ArrayList<>(items.size() - cut);
        window.add(items.get(c));
        for (ObjectNode i : items.subList(Math.min(cut + 1, c), c)) {
            if (!later.contains(i.path("id").asText())) {
                window.add(i);
            }
        }
        window.addAll(items.subList(c + 1, items.size()));
        return window;
    }

    /**
     * {@code context_management} as sent: null, or an array of {@code {"type":"compaction",
     * "compact_threshold": N}} with N an integer ≥ {@value #MIN_THRESHOLD}. Returns the threshold
     * (null when none is set); a bad value is a 400 naming the field.
     */
    static Integer threshold(JsonNode contextManagement) {
        if (contextManagement == null || contextManagement.isNull() || contextManagement.isMissingNode()) {
            return null;
        }
        if (!contextManagement.isArray()) {
            throw Refusal.invalid(
                    "context_management",
                    "Invalid type for 'context_management': expected an array, but got "
                            + ParamsParser.kind(contextManagement) + " instead.");
        }
        Integer threshold = null;
        for (int i = 0; i < contextManagement.size(); i++) {
            JsonNode entry = contextManagement.get(i);
            String where = "context_management[" + i + "]";
            if (!entry.path("type").asText("").equals(TYPE)) {
                throw Refusal.invalid(
                        where + ".type",
                        "Invalid value for '" + where + ".type': '"
                                + entry.path("type").asText("") + "'. Supported: compaction.");
            }
            JsonNode n = entry.get("compact_threshold");
            if (n == null || !n.isIntegralNumber() || n.asLong() < MIN_THRESHOLD || n.asLong() > Integer.MAX_VALUE) {
                throw Refusal.invalid(
                        where + ".compact_threshold",
                        "Invalid '" + where + ".compact_threshold': expected an integer of at least " + MIN_THRESHOLD
                                + " (tokens), got " + (n == null ? "none" : n.toString()) + ".");
            }
            threshold = n.asInt();
        }
        return threshold;
    }
}
