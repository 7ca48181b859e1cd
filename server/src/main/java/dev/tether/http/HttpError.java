package dev.tether.http;

import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;

/**
 * Shorthands for the {@link Refusal}s the Durable Streams handlers throw; {@link ErrorTable} turns
 * them into responses.
 */
final class HttpError {
    private HttpError() {}

    static Refusal badRequest(String message) {
        return Refusal.invalid(message);
    }

    static Refusal of(Condition condition, String code, String message) {
        return Refusal.of(condition, code, message);
    }
}
