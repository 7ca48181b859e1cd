package dev.tether.errors;

import java.util.Objects;

/**
 * A request Tether refuses, in words a client developer can act on: the {@link Condition} (which
 * decides the status on every transport), an optional machine-readable {@code code} (null for the
 * condition's default), the parameter at fault (OpenAI's {@code param}, or null) and a message that
 * says what was wrong and what is accepted. Thrown anywhere in the server and rendered in one place.
 *
 * <p>Immutable; carries no stack trace (it is an answer, not a bug).
 */
public final class Refusal extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Condition condition;
    private final String code;
    private final String param;

    public Refusal(Condition condition, String code, String param, String message) {
        super(Objects.requireNonNull(message, "message"), null, false, false);
        this.condition = Objects.requireNonNull(condition, "condition");
        this.code = code;
        this.param = param;
    }

    /** Malformed input, with the default code. */
    public static Refusal invalid(String message) {
        return new Refusal(Condition.INVALID, null, null, message);
    }

    /** Malformed input naming the parameter at fault. */
    public static Refusal invalid(String param, String message) {
        return new Refusal(Condition.INVALID, null, param, message);
    }

    public static Refusal invalid(String param, String code, String message) {
        return new Refusal(Condition.INVALID, code, param, message);
    }

    public static Refusal notFound(String param, String message) {
        return new Refusal(Condition.NOT_FOUND, "not_found", param, message);
    }

    public static Refusal of(Condition condition, String code, String message) {
        return new Refusal(condition, code, null, message);
    }

    public Condition condition() {
        return condition;
    }

    /** The specific code, or null for the condition's default. */
    public String code() {
        return code;
    }

    public String param() {
        return param;
    }
}
