package dev.tether.responses;

/**
 * A request the Responses API refuses, in OpenAI's error shape:
 * {@code {"error":{"message","type","param","code"}}} with {@link #status()}.
 */
public final class ApiError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String type;
    private final String code;
    private final String param;

    public ApiError(int status, String type, String code, String param, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
    }

    public static ApiError invalid(String param, String message) {
        return new ApiError(400, "invalid_request_error", null, param, message);
    }

    public static ApiError invalid(String param, String code, String message) {
        return new ApiError(400, "invalid_request_error", code, param, message);
    }

    public static ApiError notFound(String param, String message) {
        return new ApiError(404, "invalid_request_error", "not_found", param, message);
    }

    /** The HTTP-API form of "this id is unknown to a continuation" (OpenAI answers 400, not 404). */
    public static ApiError previousNotFound(String id) {
        return invalid(
                "previous_response_id",
                "previous_response_not_found",
                "Previous response with id '" + id + "' not found.");
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String code() {
        return code;
    }

    public String param() {
        return param;
    }
}
