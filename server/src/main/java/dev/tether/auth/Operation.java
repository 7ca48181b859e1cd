package dev.tether.auth;

import java.util.Locale;

/**
 * What a principal may do to a resource. Streams, responses and conversations use {@code read},
 * {@code append}, {@code create} and {@code delete}; sessions add the participant operations.
 */
public enum Operation {
    READ,
    APPEND,
    CREATE,
    DELETE,
    JOIN,
    PUBLISH,
    CANCEL,
    STEER,
    APPROVE,
    FLOOR,
    AUDIT;

    /** The name used in capability documents and error messages ({@code read}, {@code append}, …). */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The operation named {@code name}, or null when there is none. */
    static Operation parse(String name) {
        for (Operation op : values()) {
            if (op.wireName().equals(name)) {
                return op;
            }
        }
        return null;
    }
}
