package dev.tether.responses;

/**
 * A request the Responses API refuses, in OpenAI's error shape:
 * {@code {"error":{"message","type","param","code"}}} with {@link #status()}.
 */
public final class ApiError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private static final System.Logger LOG = System.getLogger(ApiError.class.getName());

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

    /**
     * Any failure of the Responses layer as an API error: itself, storage trouble (503), or a
     * bug (500, logged). Transports add their own cases in front (the HTTP layer's parse errors).
     */
    public static ApiError from(Throwable failure) {
        Throwable t = failure;
        while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return switch (t) {
            case ApiError e -> e;
            case dev.tether.stream.WriteRejectedException e ->
                new ApiError(503, "server_error", "storage_unavailable", null, e.getMessage());
            case dev.tether.store.StoreException e ->
                new ApiError(
                        503, "server_error", "storage_unavailable", null, "storage unavailable: " + e.getMessage());
            default -> {
                LOG.log(System.Logger.Level.ERROR, "unexpected failure serving a Responses API request", t);
                yield new ApiError(500, "server_error", "internal_error", null, "internal error: " + t);
            }
        };
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
