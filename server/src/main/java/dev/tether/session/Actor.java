package dev.tether.session;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Objects;

/**
 * Who caused a log entry (SESSIONS.md §1): a participant id, which is the verified principal's id,
 * and its role in the session. The server's own actions (timeouts, the built-in agent) have actors
 * of their own.
 */
public record Actor(String id, String role) {
    /** The server itself: approval timeouts, lapsed leases, restarts, unwatched runs. */
    public static final Actor SERVER = new Actor("tether", "system");

    /** The built-in agent's participant. */
    public static final Actor BUILT_IN_AGENT = new Actor("tether-agent", Role.AGENT.wire());

    public Actor {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(role, "role");
    }

    ObjectNode toJson() {
        ObjectNode a = Entry.JSON.createObjectNode();
        a.put("id", id);
        a.put("role", role);
        return a;
    }
}
