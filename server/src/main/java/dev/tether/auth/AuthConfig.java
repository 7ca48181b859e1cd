package dev.tether.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.jwk.JWKSet;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * The {@code --auth-config} file:
 *
 * <pre>{@code
 * {"keys": [{"name": "backend", "secret": "…", "capabilities": {"*": ["*"]}}],
 *  "jwt": {"hs256_secret": "…", "jwks_file": "keys.json", "issuer": "…", "audience": "…"}}
 * }</pre>
 *
 * Both parts are optional, but not both. {@code jwks_file} is resolved against the config file's
 * directory. Unknown fields are errors, so a typo never silently weakens the configuration.
 *
 * @param keys API keys (long-lived secrets for backends)
 * @param jwt  how JWTs are verified and minted, or null when only keys are accepted
 */
public record AuthConfig(List<ApiKey> keys, JwtSettings jwt) {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final int MIN_KEY_SECRET = 16;
    /** RFC 7518 §3.2: an HS256 key must be at least as long as the hash (256 bits). */
    static final int MIN_HS256_SECRET = 32;

    public AuthConfig {
        keys = List.copyOf(keys);
    }

    /**
     * One API key.
     *
     * @param name a label; the key's principal id is {@code key:<name>}
     */
    public record ApiKey(String name, String secret, Capabilities capabilities) {}

    /**
     * JWT verification settings.
     *
     * @param hs256Secret the shared HS256 secret (also used to mint tokens), or null
     * @param jwks        public keys for RS256, ES256 and EdDSA tokens, or null
     * @param issuer      the required {@code iss}, or null to accept any
     * @param audience    the required {@code aud}, or null to accept any
     */
    public record JwtSettings(byte[] hs256Secret, JWKSet jwks, String issuer, String audience) {}

    /**
     * Reads and checks the file.
     *
     * @throws IllegalArgumentException saying what is wrong and where
     */
    public static AuthConfig load(Path file) {
        JsonNode doc;
        try {
            doc = JSON.readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the auth config " + file + ": " + e.getMessage(), e);
        }
        try {
            return parse(doc, file.toAbsolutePath().getParent());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("auth config " + file + ": " + e.getMessage(), e);
        }
    }

    static AuthConfig parse(JsonNode doc, Path baseDir) {
        if (doc == null || !doc.isObject()) {
            throw new IllegalArgumentException("must be a JSON object with \"keys\" and/or \"jwt\"");
        }
        onlyFields(doc, "the top level", Set.of("keys", "jwt"));
        List<ApiKey> keys = keys(doc.get("keys"));
        JwtSettings jwt = doc.hasNonNull("jwt") ? jwt(doc.get("jwt"), baseDir) : null;
        if (keys.isEmpty() && jwt == null) {
            throw new IllegalArgumentException("configures nothing: add \"keys\" or \"jwt\" (or both)");
        }
        return new AuthConfig(keys, jwt);
    }

    private static List<ApiKey> keys(JsonNode node) {
        List<ApiKey> keys = new ArrayList<>();
        if (node == null || node.isNull()) {
            return keys;
        }
        if (!node.isArray()) {
            throw new IllegalArgumentException("\"keys\" must be an array of {name, secret, capabilities}");
        }
        Set<String> names = new HashSet<>();
        Set<String> secrets = new HashSet<>();
        for (JsonNode k : node) {
            if (!k.isObject()) {
                throw new IllegalArgumentException("each key must be an object {name, secret, capabilities}");
            }
            onlyFields(k, "a key", Set.of("name", "secret", "capabilities"));
            String name = text(k, "name", "a key");
            if (!name.matches("[A-Za-z0-9._-]{1,64}")) {
                throw new IllegalArgumentException("key name '" + name + "' must be 1-64 of [A-Za-z0-9._-]");
            }
            String secret = text(k, "secret", "key '" + name + "'");
            if (secret.length() < MIN_KEY_SECRET) {
                throw new IllegalArgumentException(
                        "the secret of key '" + name + "' is shorter than " + MIN_KEY_SECRET + " characters");
            }
            if (!names.add(name) || !secrets.add(secret)) {
                throw new IllegalArgumentException("key '" + name + "' repeats a name or a secret of another key");
            }
            Capabilities caps;
            try {
                caps = Capabilities.parse(k.get("capabilities"));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("key '" + name + "': " + e.getMessage(), e);
            }
            keys.add(new ApiKey(name, secret, caps));
        }
        return keys;
    }

    private static JwtSettings jwt(JsonNode node, Path baseDir) {
        if (!node.isObject()) {
            throw new IllegalArgumentException("\"jwt\" must be an object");
        }
        onlyFields(node, "\"jwt\"", Set.of("hs256_secret", "jwks_file", "issuer", "audience"));
        byte[] secret = null;
        if (node.hasNonNull("hs256_secret")) {
            secret = text(node, "hs256_secret", "\"jwt\"").getBytes(StandardCharsets.UTF_8);
            if (secret.length < MIN_HS256_SECRET) {
                throw new IllegalArgumentException("jwt.hs256_secret must be at least " + MIN_HS256_SECRET
                        + " bytes (RFC 7518 §3.2); generate one with: openssl rand -base64 48");
            }
        }
        JWKSet jwks = null;
        if (node.hasNonNull("jwks_file")) {
            Path file = baseDir.resolve(text(node, "jwks_file", "\"jwt\""));
            try {
                jwks = JWKSet.load(file.toFile());
            } catch (IOException | ParseException e) {
                throw new IllegalArgumentException("cannot load jwt.jwks_file " + file + ": " + e.getMessage(), e);
            }
            if (jwks.getKeys().isEmpty()) {
                throw new IllegalArgumentException("jwt.jwks_file " + file + " holds no keys");
            }
        }
        if (secret == null && jwks == null) {
            throw new IllegalArgumentException("\"jwt\" needs hs256_secret, jwks_file or both");
        }
        String issuer = node.hasNonNull("issuer") ? text(node, "issuer", "\"jwt\"") : null;
        String audience = node.hasNonNull("audience") ? text(node, "audience", "\"jwt\"") : null;
        return new JwtSettings(secret, jwks == null ? null : jwks.toPublicJWKSet(), issuer, audience);
    }

    private static String text(JsonNode node, String field, String where) {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual() || v.asText().isEmpty()) {
            throw new IllegalArgumentException(where + " needs \"" + field + "\" as a non-empty string");
        }
        return v.asText();
    }

    private static void onlyFields(JsonNode node, String where, Set<String> allowed) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw new IllegalArgumentException(
                        "unknown field \"" + f + "\" in " + where + " (expected " + String.join(", ", allowed) + ")");
            }
        }
    }
}
