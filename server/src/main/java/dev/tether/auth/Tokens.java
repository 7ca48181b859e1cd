package dev.tether.auth;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.tether.config.Units;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.Map;
import java.util.UUID;

/**
 * Mints short-lived JWTs ({@code POST /v1/auth/tokens}): how a backend holding an API key hands a
 * browser or an agent its own identity. A token is HS256-signed with {@code jwt.hs256_secret},
 * carries the requested {@code sub}, {@code exp} and {@code tether_capabilities}, and can never be
 * wider than the key that minted it.
 *
 * <p>Thread-safe and immutable.
 */
public final class Tokens {
    static final ObjectMapper JSON = new ObjectMapper();
    /** Tokens are for sessions, not for storage: longer-lived access is what keys are for. */
    public static final Duration MAX_TTL = Duration.ofHours(24);

    private static final Duration DEFAULT_TTL = Duration.ofHours(1);

    private final Authenticator authenticator;

    public Tokens(Authenticator authenticator) {
        this.authenticator = authenticator;
    }

    /** A minted token and when it expires (unix seconds). */
    public record Minted(String token, long expiresAt) {}

    /**
     * Mints a token for the request body {@code {"sub", "ttl", "capabilities"}}.
     *
     * @throws Refusal 400 for a malformed body, 403 when the caller is not a key or asks for more
     *     than it has, 503 when no signing secret is configured
     */
    public Minted mint(Principal caller, JsonNode body) {
        if (caller.kind() != Principal.Kind.KEY) {
            throw new Refusal(
                    Condition.FORBIDDEN,
                    "keys_only",
                    null,
                    "only API keys can mint tokens (this request was made with a token for " + caller.id() + ")");
        }
        if (!authenticator.canSign()) {
            throw new Refusal(
                    Condition.NOT_CONFIGURED,
                    "no_signing_key",
                    null,
                    "minting tokens needs \"jwt\": {\"hs256_secret\": …} in the auth config");
        }
        if (body == null || !body.isObject()) {
            throw Refusal.invalid(null, "the body must be a JSON object {\"sub\", \"ttl\", \"capabilities\"}");
        }
        String sub = subject(body.get("sub"));
        Duration ttl = ttl(body.get("ttl"));
        Capabilities requested;
        try {
            requested = Capabilities.parse(body.get("capabilities"));
        } catch (IllegalArgumentException e) {
            throw Refusal.invalid("capabilities", e.getMessage());
        }
        Capabilities.Grant wider = caller.capabilities().uncovered(requested);
        if (wider != null) {
            throw new Refusal(
                    Condition.FORBIDDEN,
                    "capabilities_too_wide",
                    "capabilities",
                    "cannot grant " + Capabilities.describe(wider) + ": it is wider than the capabilities of "
                            + caller.id());
        }
        return sign(sub, ttl, requested);
    }

    private Minted sign(String sub, Duration ttl, Capabilities capabilities) {
        Instant now = authenticator.clock().instant();
        Instant expires = now.plus(ttl);
        AuthConfig.JwtSettings jwt = authenticator.jwt();
        JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder()
                .subject(sub)
                .issueTime(Date.from(now))
                .expirationTime(Date.from(expires))
                .jwtID(UUID.randomUUID().toString())
                .claim(
                        Authenticator.CAPABILITIES_CLAIM,
                        JSON.convertValue(capabilities.toJson(), new TypeReference<Map<String, Object>>() {}));
        if (jwt.issuer() != null) {
            claims.issuer(jwt.issuer());
        }
        if (jwt.audience() != null) {
            claims.audience(jwt.audience());
        }
        SignedJWT token = new SignedJWT(
                new JWSHeader.Builder(JWSAlgorithm.HS256)
                        .type(JOSEObjectType.JWT)
                        .build(),
                claims.build());
        try {
            token.sign(new MACSigner(jwt.hs256Secret()));
        } catch (JOSEException e) {
            throw new IllegalStateException("signing with a checked HS256 secret failed", e);
        }
        return new Minted(token.serialize(), expires.getEpochSecond());
    }

    private static String subject(JsonNode v) {
        if (v == null || !v.isTextual()) {
            throw Refusal.invalid("sub", "Missing required parameter: 'sub' (the participant's id, a string).");
        }
        String sub = v.asText();
        if (sub.isBlank() || sub.length() > 256 || sub.startsWith("key:") || sub.equals("anonymous")) {
            throw Refusal.invalid("sub", "Invalid 'sub': 1-256 characters, not 'anonymous', not starting with 'key:'.");
        }
        return sub;
    }

    private static Duration ttl(JsonNode v) {
        Duration ttl;
        if (v == null || v.isNull()) {
            ttl = DEFAULT_TTL;
        } else if (v.isIntegralNumber() && v.canConvertToLong()) {
            ttl = Duration.ofSeconds(v.asLong());
        } else if (v.isTextual()) {
            try {
                ttl = Units.duration(v.asText());
            } catch (IllegalArgumentException e) {
                throw Refusal.invalid("ttl", "Invalid 'ttl': " + e.getMessage() + ", or a number of seconds.");
            }
        } else {
            throw Refusal.invalid("ttl", "Invalid 'ttl': a number of seconds or a duration such as \"5m\".");
        }
        if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_TTL) > 0) {
            throw Refusal.invalid("ttl", "Invalid 'ttl': between 1 second and " + MAX_TTL.toHours() + " hours.");
        }
        return ttl;
    }
}
