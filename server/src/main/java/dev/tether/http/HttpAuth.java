package dev.tether.http;

import dev.tether.auth.Authenticator;
import dev.tether.auth.Principal;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.util.List;

/**
 * Finds and checks a request's credentials: {@code Authorization: Bearer <key or JWT>}, or — on SSE
 * and WebSocket URLs only, where browsers cannot set headers — an {@code access_token} query
 * parameter. Without an auth config every request is the {@link Principal#ANONYMOUS} principal
 * (Tether then serves loopback only).
 *
 * <p>Stateless and shared by all event loops.
 */
final class HttpAuth {
    static final String QUERY_TOKEN = "access_token";

    private final Authenticator authenticator;

    /** @param authenticator null for the open (no-auth) mode */
    HttpAuth(Authenticator authenticator) {
        this.authenticator = authenticator;
    }

    boolean enabled() {
        return authenticator != null;
    }

    /**
     * The request's principal.
     *
     * @throws Refusal 401 when credentials are missing or not accepted
     */
    Principal authenticate(HttpServerRequest req) {
        if (authenticator == null) {
            return Principal.ANONYMOUS;
        }
        String header = req.getHeader("Authorization");
        List<String> query = req.params().getAll(QUERY_TOKEN);
        if (!query.isEmpty() && !streaming(req)) {
            throw new Refusal(
                    Condition.UNAUTHENTICATED,
                    "invalid_request",
                    null,
                    "access_token is accepted only on SSE and WebSocket URLs; send Authorization: Bearer <token>");
        }
        if (header != null) {
            String[] parts = header.trim().split("\\s+", 2);
            if (parts.length != 2 || !parts[0].equalsIgnoreCase("Bearer")) {
                throw new Refusal(
                        Condition.UNAUTHENTICATED,
                        "invalid_request",
                        null,
                        "the Authorization header must be 'Bearer <API key or token>'");
            }
            return authenticator.authenticate(parts[1]);
        }
        if (query.size() == 1) {
            return authenticator.authenticate(query.get(0));
        }
        if (query.size() > 1) {
            throw Refusal.invalid(QUERY_TOKEN, "send access_token once");
        }
        throw new Refusal(
                Condition.UNAUTHENTICATED,
                "missing_credentials",
                null,
                "this server requires credentials: send Authorization: Bearer <API key or token>");
    }

    /** SSE and WebSocket URLs, where a browser cannot send an Authorization header. */
    static boolean streaming(HttpServerRequest req) {
        if (req.method() != HttpMethod.GET) {
            return false;
        }
        return "sse".equals(req.getParam("live"))
                || "true".equals(req.getParam("stream"))
                || "websocket".equalsIgnoreCase(req.getHeader("Upgrade"));
    }
}
