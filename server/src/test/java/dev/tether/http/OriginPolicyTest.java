package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.TestServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 15: no web page on another origin may drive the server, and a DNS-rebinding page (a
 * foreign host name resolving to 127.0.0.1) is refused while the server runs without auth.
 */
class OriginPolicyTest {
    @TempDir
    Path dir;

    /** Sends a raw request (the JDK client will not set Host) and returns the status line and headers. */
    static String raw(int port, String request) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            StringBuilder head = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0) {
                head.append((char) c);
                if (head.toString().endsWith("\r\n\r\n")) {
                    break;
                }
            }
            return head.toString();
        }
    }

    @Test
    void openModeServesOnlyLoopbackPagesAndHostNames() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c)) {
            HttpResponse<String> foreign = server.send(server.request("/v1/stream/a")
                    .header("Origin", "http://evil.example")
                    .header("Content-Type", "text/plain")
                    .PUT(BodyPublishers.ofString("x"))
                    .build());
            assertEquals(403, foreign.statusCode(), "a foreign page cannot create streams: " + foreign.body());
            assertTrue(foreign.body().contains("--cors-origin"), foreign.body());
            assertEquals(404, server.get("/v1/stream/a").statusCode(), "and nothing was created");

            HttpResponse<String> local = server.send(server.request("/v1/stream/a")
                    .header("Origin", "http://localhost:5173")
                    .header("Content-Type", "text/plain")
                    .PUT(BodyPublishers.ofString("x"))
                    .build());
            assertEquals(201, local.statusCode(), local.body());
            assertEquals(
                    "http://localhost:5173",
                    local.headers().firstValue("Access-Control-Allow-Origin").orElse(null),
                    "a loopback page may read the answer");
            assertFalse(
                    local.headers()
                            .firstValue("Access-Control-Allow-Credentials")
                            .isPresent(),
                    "credentials are bearer tokens, never cookies");

            String rebinding = raw(
                    server.port(),
                    "GET /v1/stream/a HTTP/1.1\r\nHost: evil.example:" + server.port()
                            + "\r\nConnection: close\r\n\r\n");
            assertTrue(rebinding.startsWith("HTTP/1.1 403"), "DNS rebinding: " + rebinding);
            String loopback = raw(
                    server.port(),
                    "GET /v1/stream/a HTTP/1.1\r\nHost: localhost:" + server.port() + "\r\nConnection: close\r\n\r\n");
            assertTrue(loopback.startsWith("HTTP/1.1 200"), loopback);

            String upgrade = raw(
                    server.port(),
                    "GET /v1/responses HTTP/1.1\r\nHost: 127.0.0.1:" + server.port() + "\r\nUpgrade: websocket\r\n"
                            + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            + "Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n\r\n");
            assertTrue(upgrade.startsWith("HTTP/1.1 403"), "a foreign page cannot open a WebSocket: " + upgrade);

            HttpResponse<String> preflight = server.send(server.request("/v1/stream/a")
                    .header("Origin", "https://example.com")
                    .header("Access-Control-Request-Method", "GET")
                    .method("OPTIONS", BodyPublishers.noBody())
                    .build());
            assertEquals(204, preflight.statusCode());
            assertFalse(
                    preflight
                            .headers()
                            .firstValue("Access-Control-Allow-Origin")
                            .isPresent(),
                    "a foreign preflight gets no Allow-Origin, so the browser blocks the request");
        }
    }

    @Test
    void configuredOriginsAreAllowed() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.corsOrigin("https://app.example"))) {
            HttpResponse<String> app = server.send(server.request("/v1/stream/b")
                    .header("Origin", "https://app.example")
                    .header("Content-Type", "text/plain")
                    .PUT(BodyPublishers.ofString("x"))
                    .build());
            assertEquals(201, app.statusCode(), app.body());
            assertEquals(
                    "https://app.example",
                    app.headers().firstValue("Access-Control-Allow-Origin").orElse(null));
            assertEquals("Origin", app.headers().firstValue("Vary").orElse(null));
        }
    }
}
