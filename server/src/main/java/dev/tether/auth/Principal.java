package dev.tether.auth;

import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import java.time.Instant;
import java.util.Objects;

/**
 * A verified identity: an API key from the auth config, the subject of a verified JWT, or the
 * anonymous principal of the open (loopback, no-auth) mode. Every event and every owned resource
 * is attributed to {@link #id()}.
 *
 * @param id           {@code key:<name>} for a key, the JWT's {@code sub} for a token, {@code anonymous}
 * @param expiresAt    when a token stops being valid, or null for keys and the anonymous principal
 */
public record Principal(String id, Kind kind, Capabilities capabilities, Instant expiresAt) {
    /** Everyone, in open mode: one principal with every capability. */
    public static final Principal ANONYMOUS = new Principal("anonymous", Kind.ANONYMOUS, Capabilities.ALL, null);

    /** How the principal proved who it is. */
    public enum Kind {
        KEY,
        TOKEN,
        ANONYMOUS
    }

    public Principal {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(capabilities, "capabilities");
    }

    /**
     * Refuses with 403 unless the principal may do {@code op} on {@code resource}; the message
     * names the missing capability so the caller knows what to ask for.
     */
    public void require(String resource, Operation op) {
        if (!capabilities.allows(resource, op)) {
            throw new Refusal(
                    Condition.FORBIDDEN,
                    "missing_capability",
                    null,
                    "missing capability: '" + op.wireName() + "' on '" + resource + "' (principal " + id + ")");
        }
    }
}
