package dev.tether.session;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import java.util.Iterator;
import java.util.Set;

/**
 * A session's policy (SESSIONS.md §2, {@code session.policy}).
 *
 * @param rollupMs            how long live chunks are merged before they are written (0: every delta)
 * @param presenceTimeoutMs   how long presence outlives the last connection or heartbeat
 * @param approvalTimeoutMs   how long a tool call waits for approval before the server denies it
 * @param cancelAfterMs       {@code on_unwatched.cancel_after_ms}: cancel a built-in run nobody (no
 *                            user device) has watched this long, or null to let it continue
 */
public record SessionPolicy(
        Multitask multitask, long rollupMs, long presenceTimeoutMs, long approvalTimeoutMs, Long cancelAfterMs) {
    public static final SessionPolicy DEFAULTS = new SessionPolicy(Multitask.ENQUEUE, 40, 10_000, 120_000, null);
    private static final Set<String> FIELDS =
            Set.of("multitask", "rollup_ms", "presence_timeout_ms", "approval_timeout_ms", "on_unwatched");

    /** The defaults overridden by {@code policy}'s fields; a 400 naming the field for anything wrong. */
    public static SessionPolicy parse(JsonNode policy) {
        if (policy == null || policy.isNull() || policy.isMissingNode()) {
            return DEFAULTS;
        }
        if (!policy.isObject()) {
            throw Refusal.invalid("policy", "policy must be an object");
        }
        for (Iterator<String> it = policy.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!FIELDS.contains(f)) {
                throw Refusal.invalid("policy." + f, "unknown policy field '" + f + "'; accepted: " + FIELDS);
            }
        }
        Multitask multitask = policy.has("multitask")
                ? Multitask.parse(text(policy.get("multitask"), "policy.multitask"))
                : DEFAULTS.multitask;
        long rollup = millis(policy, "rollup_ms", DEFAULTS.rollupMs, 0, 10_000);
        long presence = millis(policy, "presence_timeout_ms", DEFAULTS.presenceTimeoutMs, 100, 3_600_000);
        long approval = millis(policy, "approval_timeout_ms", DEFAULTS.approvalTimeoutMs, 100, 86_400_000);
        Long cancelAfter = null;
        JsonNode unwatched = policy.get("on_unwatched");
        if (unwatched != null && !unwatched.isNull()) {
            if (!unwatched.isObject() || !unwatched.has("cancel_after_ms") || unwatched.size() != 1) {
                throw Refusal.invalid(
                        "policy.on_unwatched", "policy.on_unwatched must be null or {\"cancel_after_ms\": N}");
            }
            cancelAfter = millis(unwatched, "cancel_after_ms", 0, 0, 86_400_000);
        }
        return new SessionPolicy(multitask, rollup, presence, approval, cancelAfter);
    }

    private static String text(JsonNode v, String name) {
        if (!v.isTextual()) {
            throw Refusal.invalid(name, name + " must be a string");
        }
        return v.asText();
    }

    private static long millis(JsonNode obj, String field, long dflt, long min, long max) {
        JsonNode v = obj.get(field);
        if (v == null) {
            return dflt;
        }
        if (!v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < min || v.asLong() > max) {
            throw Refusal.invalid(field, field + " must be an integer from " + min + " to " + max + " (milliseconds)");
        }
        return v.asLong();
    }

    ObjectNode toJson() {
        ObjectNode p = Entry.JSON.createObjectNode();
        p.put("multitask", multitask.wire());
        p.put("rollup_ms", rollupMs);
        p.put("presence_timeout_ms", presenceTimeoutMs);
        p.put("approval_timeout_ms", approvalTimeoutMs);
        if (cancelAfterMs == null) {
            p.putNull("on_unwatched");
        } else {
            p.putObject("on_unwatched").put("cancel_after_ms", cancelAfterMs);
        }
        return p;
    }
}
