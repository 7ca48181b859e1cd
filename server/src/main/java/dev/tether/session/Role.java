package dev.tether.session;

import dev.tether.errors.Refusal;
import java.util.Locale;

/** A participant's role in a session (SESSIONS.md §2). */
public enum Role {
    USER,
    AGENT,
    OPERATOR,
    OBSERVER;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The role named {@code name}; a 400 naming the accepted ones otherwise. */
    public static Role parse(String name) {
        for (Role r : values()) {
            if (r.wire().equals(name)) {
                return r;
            }
        }
        throw Refusal.invalid("role", "role must be one of user, agent, operator, observer; got '" + name + "'");
    }
}
