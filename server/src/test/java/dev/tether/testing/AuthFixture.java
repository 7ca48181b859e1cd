package dev.tether.testing;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.Ed25519Signer;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.OctetKeyPairGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;

/**
 * An auth config for tests: two API keys ({@code backend} with every capability, {@code reader}
 * with read on {@code streams/public/*}), an HS256 secret, and a JWKS file holding freshly
 * generated RSA, EC P-256 and Ed25519 public keys, with an issuer and an audience. It signs tokens
 * with any of those keys, with whatever claims a test needs.
 */
public final class AuthFixture {
    public static final String BACKEND = "backend-secret-0123456789";
    public static final String READER = "reader-secret-0123456789";
    public static final String HS256 = "hs256-secret-0123456789-0123456789-0123456789";
    public static final String ISSUER = "https://issuer.test";
    public static final String AUDIENCE = "tether-test";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path config;
    private final RSAKey rsa;
    private final ECKey ec;
    private final OctetKeyPair ed;

    private AuthFixture(Path config, RSAKey rsa, ECKey ec, OctetKeyPair ed) {
        this.config = config;
        this.rsa = rsa;
        this.ec = ec;
        this.ed = ed;
    }

    public static AuthFixture create(Path dir) throws IOException, JOSEException {
        RSAKey rsa = new RSAKeyGenerator(2048).keyID("rsa1").generate();
        ECKey ec = new ECKeyGenerator(Curve.P_256).keyID("ec1").generate();
        OctetKeyPair ed = new OctetKeyPairGenerator(Curve.Ed25519).keyID("ed1").generate();
        Files.createDirectories(dir);
        Files.writeString(
                dir.resolve("keys.json"),
                new JWKSet(List.of(rsa, ec, ed)).toPublicJWKSet().toString());
        Path config = dir.resolve("auth.json");
        Files.writeString(
                config,
                """
                {"keys": [
                   {"name": "backend", "secret": "%s", "capabilities": {"*": ["*"]}},
                   {"name": "reader", "secret": "%s", "capabilities": {"streams/public/*": ["read"]}}],
                 "jwt": {"hs256_secret": "%s", "jwks_file": "keys.json", "issuer": "%s", "audience": "%s"}}
                """
                        .formatted(BACKEND, READER, HS256, ISSUER, AUDIENCE));
        return new AuthFixture(config, rsa, ec, ed);
    }

    public Path config() {
        return config;
    }

    /** A valid token for {@code sub} with {@code capabilities} (JSON), signed with {@code alg}, valid for 5 minutes. */
    public String token(String alg, String sub, String capabilities) throws Exception {
        return token(alg, sub, capabilities, Instant.now().plus(Duration.ofMinutes(5)), null, ISSUER, AUDIENCE);
    }

    /** A token with the given claims; null leaves a claim out. */
    public String token(
            String alg, String sub, String capabilities, Instant exp, Instant nbf, String issuer, String audience)
            throws Exception {
        JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder().subject(sub).issueTime(new Date());
        if (exp != null) {
            claims.expirationTime(Date.from(exp));
        }
        if (nbf != null) {
            claims.notBeforeTime(Date.from(nbf));
        }
        if (issuer != null) {
            claims.issuer(issuer);
        }
        if (audience != null) {
            claims.audience(audience);
        }
        if (capabilities != null) {
            claims.claim(
                    "tether_capabilities", JSON.readValue(capabilities, new TypeReference<Map<String, Object>>() {}));
        }
        JWSSigner signer;
        JWSHeader header;
        switch (alg) {
            case "HS256" -> {
                signer = new MACSigner(HS256);
                header = new JWSHeader(JWSAlgorithm.HS256);
            }
            case "RS256" -> {
                signer = new RSASSASigner(rsa);
                header = new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("rsa1").build();
            }
            case "ES256" -> {
                signer = new ECDSASigner(ec);
                header = new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("ec1").build();
            }
            case "EdDSA" -> {
                signer = new Ed25519Signer(ed);
                header = new JWSHeader.Builder(JWSAlgorithm.EdDSA).keyID("ed1").build();
            }
            default -> throw new IllegalArgumentException(alg);
        }
        SignedJWT jwt = new SignedJWT(header, claims.build());
        jwt.sign(signer);
        return jwt.serialize();
    }
}
