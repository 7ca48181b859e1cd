package dev.tether.session;

import dev.tether.errors.Refusal;
import java.util.Locale;

/** What a user message does while a run is active (SESSIONS.md rule 3). */
public enum Multitask {
    ENQUEUE,
    REJECT,
    INTERRUPT,
    CONCURRENT;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    static Multitask parse(String name) {
        for (Multitask m : values()) {
            if (m.wire().equals(name)) {
                return m;
            }
        }
        throw Refusal.invalid(
                "policy.multitask",
                "policy.multitask must be one of enqueue, reject, interrupt, concurrent; got '" + name + "'");
    }
}
