package dev.tether.http;

import dev.tether.auth.Principal;
import dev.tether.auth.Tokens;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.responses.Json;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;

/**
 * {@code POST /v1/auth/tokens} with {@code {"sub", "ttl", "capabilities"}}: an API key holder mints
 * a short-lived JWT for a participant (a browser, a device, an agent), answered with {@code
 * {"token", "expires_at"}}. See {@link Tokens} for the rules.
 *
 * <p>Stateless and shared by all event loops.
 */
final class TokenRoutes {
    static final String PATH = "/v1/auth/tokens";

    private final Tokens tokens;
    private final Bodies.Limit bodyLimit;

    /** @param tokens null when the server runs without an auth config */
    TokenRoutes(Tokens tokens, Bodies.Limit bodyLimit) {
        this.tokens = tokens;
        this.bodyLimit = bodyLimit;
    }

    void handle(HttpServerRequest req, Principal principal) {
        if (req.method() != HttpMethod.POST) {
            throw new Refusal(
                    Condition.METHOD_NOT_ALLOWED, null, "POST", req.method() + " is not allowed here; use POST");
        }
        if (tokens == null) {
            throw new Refusal(
                    Condition.NOT_CONFIGURED,
                    "auth_not_configured",
                    null,
                    "this server runs without --auth-config, so it has no tokens to mint");
        }
        Bodies.collect(req, bodyLimit)
                .map(body -> {
                    if (body.length() == 0) {
                        throw Refusal.invalid("the body must be a JSON object {\"sub\", \"ttl\", \"capabilities\"}");
                    }
                    Tokens.Minted minted = tokens.mint(principal, Json.parseRequest(body.getBytes()));
                    return Json.object().put("token", minted.token()).put("expires_at", minted.expiresAt());
                })
                .onSuccess(json -> ResponsesRoutes.send(req.response(), 200, json))
                .onFailure(e -> ErrorResponses.send(req.response(), e));
    }
}
