package dev.tether.http;

import java.util.Map;

/**
 * A request the server refuses with a specific status. Thrown anywhere in the http package
 * and turned into a response in one place ({@link ErrorResponses}).
 *
 * @see ErrorResponses
 */
final class HttpError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int status;
    final String code;
    final transient Map<String, String> headers;

    HttpError(int status, String code, String message, Map<String, String> headers) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
        this.headers = headers;
    }

    static HttpError badRequest(String message) {
        return new HttpError(400, "bad_request", message, Map.of());
    }

    static HttpError of(int status, String code, String message) {
        return new HttpError(status, code, message, Map.of());
    }
}
