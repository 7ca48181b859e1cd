package dev.tether.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.Ed25519Verifier;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKMatcher;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.jwt.proc.BadJWTException;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import dev.tether.auth.AuthConfig.ApiKey;
import dev.tether.auth.AuthConfig.JwtSettings;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.text.ParseException;
import java.time.InstantSource;
import java.util.Date;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a bearer credential into a {@link Principal}: an API key from the config (compared in
 * constant time), or a JWT verified with nimbus-jose-jwt (HS256 with the shared secret; RS256,
 * ES256 and EdDSA with the JWKS file's public keys), whose {@code exp}, {@code nbf}, {@code iss}
 * and {@code aud} are checked with 60 s of clock skew. Every failure is a 401 {@link Refusal}
 * saying why, never which secret was close.
 *
 * <p>Thread-safe and immutable.
 */
public final class Authenticator {
    static final String CAPABILITIES_CLAIM = "tether_capabilities";
    static final Set<JWSAlgorithm> ASYMMETRIC = Set.of(JWSAlgorithm.RS256, JWSAlgorithm.ES256, JWSAlgorithm.EdDSA);
    private static final int MAX_CREDENTIAL_LENGTH = 8192;

    private final Map<String, ApiKey> keysByDigest = new HashMap<>();
    private final JwtSettings jwt;
    private final InstantSource clock;

    public Authenticator(AuthConfig config, InstantSource clock) {
        for (ApiKey k : config.keys()) {
            keysByDigest.put(digest(k.secret()), k);
        }
        this.jwt = config.jwt();
        this.clock = clock;
    }

    /** Whether tokens can be minted (an HS256 secret is configured). */
    public boolean canSign() {
        return jwt != null && jwt.hs256Secret() != null;
    }

    JwtSettings jwt() {
        return jwt;
    }

    InstantSource clock() {
        return clock;
    }

    /**
     * The principal the credential proves.
     *
     * @throws Refusal 401 ({@code invalid_token}) saying why the credential is not accepted
     */
    public Principal authenticate(String credential) {
        if (credential.isEmpty() || credential.length() > MAX_CREDENTIAL_LENGTH) {
            throw invalid("the credential is empty or longer than " + MAX_CREDENTIAL_LENGTH + " characters");
        }
        if (credential.chars().filter(c -> c == '.').count() == 2) {
            return token(credential);
        }
        ApiKey key = keysByDigest.get(digest(credential));
        if (key == null
                || !MessageDigest.isEqual(
                        key.secret().getBytes(StandardCharsets.UTF_8), credential.getBytes(StandardCharsets.UTF_8))) {
            throw invalid("unknown API key");
        }
        return new Principal("key:" + key.name(), Principal.Kind.KEY, key.capabilities(), null);
    }

    private Principal token(String credential) {
        if (jwt == null) {
            throw invalid("this server accepts API keys only (no \"jwt\" section in its auth config)");
        }
        SignedJWT token;
        try {
            token = SignedJWT.parse(credential);
        } catch (ParseException e) {
            throw invalid("the token is not a signed JWT: " + e.getMessage());
        }
        JWSHeader header = token.getHeader();
        try {
            if (!token.verify(verifier(header))) {
                throw invalid("the token's signature is invalid");
            }
        } catch (JOSEException e) {
            throw invalid("the token's signature cannot be checked: " + e.getMessage());
        }
        JWTClaimsSet claims;
        try {
            claims = token.getJWTClaimsSet();
            claimsVerifier().verify(claims, null);
        } catch (ParseException | BadJWTException e) {
            throw invalid(describe(e));
        }
        String sub = claims.getSubject();
        if (sub.isBlank() || sub.length() > 256 || sub.startsWith("key:") || sub.equals("anonymous")) {
            throw invalid("the token's sub must be 1-256 characters and not 'anonymous' or start with 'key:'");
        }
        Object caps = claims.getClaim(CAPABILITIES_CLAIM);
        if (!(caps instanceof Map<?, ?> map)) {
            throw invalid(
                    "the token carries no " + CAPABILITIES_CLAIM + " claim (an object of resources to operations)");
        }
        Capabilities capabilities;
        try {
            capabilities = Capabilities.parse(Tokens.JSON.valueToTree(map));
        } catch (IllegalArgumentException e) {
            throw invalid("the token's " + CAPABILITIES_CLAIM + " claim is malformed: " + e.getMessage());
        }
        return new Principal(
                sub,
                Principal.Kind.TOKEN,
                capabilities,
                claims.getExpirationTime().toInstant());
    }

    private JWSVerifier verifier(JWSHeader header) throws JOSEException {
        JWSAlgorithm alg = header.getAlgorithm();
        if (JWSAlgorithm.HS256.equals(alg)) {
            if (jwt.hs256Secret() == null) {
                throw invalid("HS256 tokens are not accepted here (no jwt.hs256_secret configured)");
            }
            return new MACVerifier(jwt.hs256Secret());
        }
        if (!ASYMMETRIC.contains(alg)) {
            throw invalid("the token's algorithm " + alg + " is not accepted (HS256, RS256, ES256 or EdDSA)");
        }
        if (jwt.jwks() == null) {
            throw invalid(alg + " tokens are not accepted here (no jwt.jwks_file configured)");
        }
        List<JWK> candidates = new JWKSelector(JWKMatcher.forJWSHeader(header)).select(jwt.jwks());
        if (candidates.isEmpty()) {
            throw invalid(
                    "no key in the JWKS file matches the token (kid " + header.getKeyID() + ", algorithm " + alg + ")");
        }
        JWK key = candidates.get(0);
        return switch (key) {
            case RSAKey rsa -> new RSASSAVerifier(rsa);
            case ECKey ec -> new ECDSAVerifier(ec);
            case OctetKeyPair okp -> new Ed25519Verifier(okp);
            default -> throw invalid("the JWKS key " + key.getKeyID() + " has an unsupported type " + key.getKeyType());
        };
    }

    private DefaultJWTClaimsVerifier<com.nimbusds.jose.proc.SecurityContext> claimsVerifier() {
        JWTClaimsSet.Builder exact = new JWTClaimsSet.Builder();
        if (jwt.issuer() != null) {
            exact.issuer(jwt.issuer());
        }
        Set<String> audience = jwt.audience() == null ? null : Set.of(jwt.audience());
        return new DefaultJWTClaimsVerifier<>(audience, exact.build(), Set.of("sub", "exp"), null) {
            @Override
            protected Date currentTime() {
                return Date.from(clock.instant());
            }
        };
    }

    private static String describe(Exception e) {
        String m = String.valueOf(e.getMessage());
        if (m.startsWith("Expired JWT")) {
            return "the token has expired";
        }
        if (m.startsWith("JWT before use time")) {
            return "the token is not valid yet (nbf is in the future)";
        }
        return "the token's claims are not accepted: " + m;
    }

    static Refusal invalid(String why) {
        return new Refusal(Condition.UNAUTHENTICATED, "invalid_token", null, why);
    }

    private static String digest(String secret) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
