package dev.tether.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.AuthFixture;
import dev.tether.testing.RawWebSocket;
import dev.tether.testing.TestServer;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Identity and capabilities over HTTP: keys and JWTs of every accepted algorithm, the 401s that say
 * why, the 403s that name the missing capability, {@code access_token} only where browsers need it,
 * and token minting no wider than the minting key.
 */
class AuthHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    private static AuthFixture auth;
    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        auth = AuthFixture.create(dir.resolve("auth"));
        server = TestServer.start(dir.resolve("data"), c -> c.authConfig(auth.config()));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static HttpResponse<String> send(String method, String path, String bearer, String body) throws Exception {
        HttpRequest.Builder b = server.request(path)
                .method(method, body == null ? BodyPublishers.noBody() : BodyPublishers.ofString(body));
        if (bearer != null) {
            b.header("Authorization", "Bearer " + bearer);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return server.send(b.build());
    }

    private static JsonNode error(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body()).path("error");
    }

    @Test
    void missingCredentialsAre401WithABearerChallengeOnEveryApi() throws Exception {
        HttpResponse<String> stream = send("GET", "/v1/stream/public/a", null, null);
        assertEquals(401, stream.statusCode(), stream.body());
        assertEquals(
                "Bearer realm=\"tether\"",
                stream.headers().firstValue("WWW-Authenticate").orElse(null),
                "RFC 6750: a 401 challenges for a bearer token");
        assertEquals("missing_credentials", error(stream).path("code").asText());
        HttpResponse<String> responses = send("POST", "/v1/responses", null, "{\"model\":\"m\",\"input\":\"hi\"}");
        assertEquals(401, responses.statusCode(), responses.body());
        assertEquals("authentication_error", error(responses).path("type").asText(), "OpenAI envelope");
        assertTrue(responses.headers().firstValue("WWW-Authenticate").isPresent());
        assertEquals(401, send("GET", "/v1/conversations/conv_x", null, null).statusCode());
        assertEquals(200, send("GET", "/health", null, null).statusCode(), "health stays open for load balancers");
    }

    @Test
    void badCredentialsAre401SayingWhy() throws Exception {
        HttpResponse<String> unknown = send("GET", "/v1/stream/public/a", "not-a-key-of-this-server", null);
        assertEquals(401, unknown.statusCode());
        assertTrue(error(unknown).path("message").asText().contains("unknown API key"), unknown.body());
        assertTrue(unknown.headers().firstValue("WWW-Authenticate").orElse("").contains("error=\"invalid_token\""));

        String expired = auth.token(
                "HS256",
                "alice",
                "{\"*\":[\"*\"]}",
                Instant.now().minus(Duration.ofMinutes(10)),
                null,
                AuthFixture.ISSUER,
                AuthFixture.AUDIENCE);
        assertMessage(send("GET", "/v1/stream/public/a", expired, null), "expired");

        String good = auth.token("RS256", "alice", "{\"*\":[\"*\"]}");
        String tampered =
                good.substring(0, good.lastIndexOf('.') + 1) + "AAAA" + good.substring(good.lastIndexOf('.') + 5);
        assertMessage(send("GET", "/v1/stream/public/a", tampered, null), "signature");

        String future = auth.token(
                "ES256",
                "alice",
                "{\"*\":[\"*\"]}",
                Instant.now().plus(Duration.ofHours(1)),
                Instant.now().plus(Duration.ofMinutes(30)),
                AuthFixture.ISSUER,
                AuthFixture.AUDIENCE);
        assertMessage(send("GET", "/v1/stream/public/a", future, null), "not valid yet");

        String wrongAudience = auth.token(
                "HS256",
                "alice",
                "{\"*\":[\"*\"]}",
                Instant.now().plus(Duration.ofMinutes(5)),
                null,
                AuthFixture.ISSUER,
                "someone-else");
        assertMessage(send("GET", "/v1/stream/public/a", wrongAudience, null), "aud");

        String wrongIssuer = auth.token(
                "EdDSA",
                "alice",
                "{\"*\":[\"*\"]}",
                Instant.now().plus(Duration.ofMinutes(5)),
                null,
                "https://evil.test",
                AuthFixture.AUDIENCE);
        assertMessage(send("GET", "/v1/stream/public/a", wrongIssuer, null), "iss");

        String noCapabilities = auth.token("HS256", "alice", null);
        assertMessage(send("GET", "/v1/stream/public/a", noCapabilities, null), "tether_capabilities");
        String keyImpersonation = auth.token("HS256", "key:backend", "{\"*\":[\"*\"]}");
        assertMessage(send("GET", "/v1/stream/public/a", keyImpersonation, null), "key:");
    }

    private static void assertMessage(HttpResponse<String> r, String hint) throws Exception {
        assertEquals(401, r.statusCode(), r.body());
        assertTrue(error(r).path("message").asText().contains(hint), "the 401 should say '" + hint + "': " + r.body());
    }

    @Test
    void tokensOfEveryAcceptedAlgorithmAuthenticate() throws Exception {
        for (String alg : new String[] {"HS256", "RS256", "ES256", "EdDSA"}) {
            String token = auth.token(alg, "user-" + alg, "{\"streams/algs/*\":[\"create\",\"read\"]}");
            HttpResponse<String> created = server.send(server.request("/v1/stream/algs/" + alg)
                    .header("Authorization", "Bearer " + token)
                    .header("Content-Type", "text/plain")
                    .PUT(BodyPublishers.noBody())
                    .build());
            assertEquals(201, created.statusCode(), alg + ": " + created.body());
            assertEquals(200, send("GET", "/v1/stream/algs/" + alg, token, null).statusCode(), alg);
        }
    }

    @Test
    void aMissingCapabilityIs403NamingIt() throws Exception {
        HttpResponse<String> create = server.send(server.request("/v1/stream/public/new")
                .header("Authorization", "Bearer " + AuthFixture.READER)
                .header("Content-Type", "text/plain")
                .PUT(BodyPublishers.noBody())
                .build());
        assertEquals(403, create.statusCode(), create.body());
        String message = error(create).path("message").asText();
        assertTrue(
                message.contains("'create'") && message.contains("streams/public/new"),
                "the 403 names the operation and the resource: " + message);
        assertEquals(
                403,
                send("GET", "/v1/stream/private/x", AuthFixture.READER, null).statusCode(),
                "outside the glob");
        assertEquals(
                404,
                send("GET", "/v1/stream/public/missing", AuthFixture.READER, null)
                        .statusCode(),
                "inside the glob the request goes through (the stream does not exist)");
        HttpResponse<String> responses = send("GET", "/v1/responses/resp_abc", AuthFixture.READER, null);
        assertEquals(403, responses.statusCode());
        assertEquals("permission_error", error(responses).path("type").asText());
        assertTrue(error(responses).path("message").asText().contains("'read' on 'responses'"));
    }

    @Test
    void accessTokenInTheQueryIsAcceptedOnlyOnSseAndWebSocketUrls() throws Exception {
        assertEquals(
                201,
                server.send(server.request("/v1/stream/qs")
                                .header("Authorization", "Bearer " + AuthFixture.BACKEND)
                                .header("Content-Type", "text/plain")
                                .PUT(BodyPublishers.ofString("x"))
                                .build())
                        .statusCode());
        HttpResponse<String> plain =
                send("GET", "/v1/stream/qs?offset=-1&access_token=" + AuthFixture.BACKEND, null, null);
        assertEquals(401, plain.statusCode(), plain.body());
        assertTrue(error(plain).path("message").asText().contains("SSE and WebSocket"));
        HttpResponse<InputStream> sse = server.client()
                .send(
                        server.request("/v1/stream/qs?offset=-1&live=sse&access_token=" + AuthFixture.BACKEND)
                                .GET()
                                .build(),
                        HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = sse.body()) {
            assertEquals(200, sse.statusCode());
            byte[] first = in.readNBytes(12);
            assertEquals("event: data\n", new String(first, StandardCharsets.UTF_8));
        }
    }

    @Test
    void aWebSocketAuthenticatesWithItsQueryTokenAndIsRefusedWithout() throws Exception {
        String token = auth.token("HS256", "ws-user", "{\"responses\":[\"create\",\"read\"]}");
        try (RawWebSocket ws = RawWebSocket.open(server.port(), "/v1/responses?access_token=" + token)) {
            assertTrue(ws.handshake().startsWith("HTTP/1.1 101"), ws.handshake());
        }
        try (RawWebSocket ws = RawWebSocket.open(server.port(), "/v1/responses")) {
            assertTrue(ws.handshake().startsWith("HTTP/1.1 401"), "no credentials, no upgrade: " + ws.handshake());
        }
        String reader = auth.token("HS256", "ws-reader", "{\"responses\":[\"read\"]}");
        try (RawWebSocket ws = RawWebSocket.open(server.port(), "/v1/responses?access_token=" + reader)) {
            assertTrue(ws.handshake().startsWith("HTTP/1.1 403"), "a socket creates responses: " + ws.handshake());
        }
    }

    @Test
    void aKeyMintsTokensNoWiderThanItself() throws Exception {
        HttpResponse<String> minted = send(
                "POST",
                "/v1/auth/tokens",
                AuthFixture.BACKEND,
                "{\"sub\":\"browser-1\",\"ttl\":\"5m\",\"capabilities\":{\"streams/mint/*\":[\"create\",\"read\"]}}");
        assertEquals(200, minted.statusCode(), minted.body());
        JsonNode body = JSON.readTree(minted.body());
        String token = body.path("token").asText();
        long expiresAt = body.path("expires_at").asLong();
        long now = Instant.now().getEpochSecond();
        assertTrue(Math.abs(expiresAt - (now + 300)) <= 5, "ttl 5m: expires_at " + expiresAt + " vs now " + now);
        HttpResponse<String> created = server.send(server.request("/v1/stream/mint/a")
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", "text/plain")
                .PUT(BodyPublishers.noBody())
                .build());
        assertEquals(201, created.statusCode(), "the minted token works: " + created.body());
        assertEquals(
                403, send("DELETE", "/v1/stream/mint/a", token, null).statusCode(), "but only for what it was given");

        HttpResponse<String> wider = send(
                "POST",
                "/v1/auth/tokens",
                AuthFixture.READER,
                "{\"sub\":\"x\",\"ttl\":60,\"capabilities\":{\"streams/*\":[\"read\"]}}");
        assertEquals(403, wider.statusCode(), wider.body());
        assertTrue(error(wider).path("message").asText().contains("streams/*"), wider.body());
        HttpResponse<String> narrower = send(
                "POST",
                "/v1/auth/tokens",
                AuthFixture.READER,
                "{\"sub\":\"x\",\"ttl\":60,\"capabilities\":{\"streams/public/docs/*\":[\"read\"]}}");
        assertEquals(200, narrower.statusCode(), "a narrower glob is within the key: " + narrower.body());

        HttpResponse<String> byToken = send(
                "POST",
                "/v1/auth/tokens",
                token,
                "{\"sub\":\"y\",\"ttl\":60,\"capabilities\":{\"streams/mint/*\":[\"read\"]}}");
        assertEquals(403, byToken.statusCode(), "tokens do not mint tokens");
        assertEquals(
                400,
                send(
                                "POST",
                                "/v1/auth/tokens",
                                AuthFixture.BACKEND,
                                "{\"sub\":\"z\",\"ttl\":\"forever\",\"capabilities\":{}}")
                        .statusCode());
        assertEquals(
                400,
                send(
                                "POST",
                                "/v1/auth/tokens",
                                AuthFixture.BACKEND,
                                "{\"sub\":\"z\",\"ttl\":\"48h\",\"capabilities\":{\"responses\":[\"read\"]}}")
                        .statusCode(),
                "longer than the 24 h maximum");
        assertEquals(
                400,
                send(
                                "POST",
                                "/v1/auth/tokens",
                                AuthFixture.BACKEND,
                                "{\"ttl\":60,\"capabilities\":{\"responses\":[\"read\"]}}")
                        .statusCode(),
                "sub is required");
        assertEquals(
                400,
                send(
                                "POST",
                                "/v1/auth/tokens",
                                AuthFixture.BACKEND,
                                "{\"sub\":\"z\",\"capabilities\":{\"nonsense\":[\"read\"]}}")
                        .statusCode(),
                "unknown resource kinds are refused");
    }

    @Test
    void internalNamespacesAreReadOnlyEvenForAKeyWithEveryCapability() throws Exception {
        for (String path :
                new String[] {"responses/resp_fff", "responses/resp_fff/input", "conversations/conv_x", "sessions/s1"
                }) {
            HttpResponse<String> put = server.send(server.request("/v1/stream/" + path)
                    .header("Authorization", "Bearer " + AuthFixture.BACKEND)
                    .header("Content-Type", "application/json")
                    .PUT(BodyPublishers.noBody())
                    .build());
            assertEquals(403, put.statusCode(), "PUT " + path + ": " + put.body());
            assertEquals("read_only_namespace", error(put).path("code").asText());
            assertEquals(
                    403,
                    send("POST", "/v1/stream/" + path, AuthFixture.BACKEND, "{\"op\":\"add\"}")
                            .statusCode(),
                    "POST " + path);
            assertEquals(
                    403,
                    send("DELETE", "/v1/stream/" + path, AuthFixture.BACKEND, null)
                            .statusCode());
        }
    }
}
