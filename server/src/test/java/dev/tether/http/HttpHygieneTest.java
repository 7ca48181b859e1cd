package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.TestServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Findings 18 and 22: malformed requests below the APIs — bad percent-escapes in the query, broken
 * chunked bodies, oversized request lines and headers, unknown HTTP versions — get a 4xx or 505
 * with a JSON body that says what was wrong, never a 500, an empty body or an exception's text.
 */
class HttpHygieneTest {
    @TempDir
    static Path dir;

    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir, c -> c);
        assertEquals(201, server.put("/v1/stream/h", "text/plain").statusCode());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** Sends raw bytes and returns the whole answer (the server closes or answers with a length). */
    private static String raw(String request) throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            StringBuilder sb = new StringBuilder();
            byte[] buf = new byte[8192];
            int n;
            try {
                while ((n = in.read(buf)) >= 0) {
                    sb.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                    int head = sb.indexOf("\r\n\r\n");
                    int length = contentLength(sb, head);
                    if (head >= 0 && length >= 0 && sb.length() >= head + 4 + length) {
                        break;
                    }
                }
            } catch (java.net.SocketException e) {
                // reset after the answer
            }
            return sb.toString();
        }
    }

    private static int contentLength(StringBuilder sb, int head) {
        if (head < 0) {
            return -1;
        }
        for (String line : sb.substring(0, head).split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                return Integer.parseInt(line.substring(15).trim());
            }
        }
        return -1;
    }

    private static void assertJsonError(String status, String hint, String answer) {
        // An unreadable request line leaves the version unknown: the decoder answers as HTTP/1.0.
        assertTrue(answer.matches("(?s)HTTP/1\\.[01] " + status + " .*"), "expected " + status + ": " + answer);
        String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
        assertTrue(body.startsWith("{\"error\":"), "a JSON error body: " + answer);
        assertTrue(body.contains(hint), "the body mentions '" + hint + "': " + body);
        assertFalse(body.contains("Exception"), "no exception text: " + body);
    }

    @Test
    void badPercentEscapesInTheQueryAre400OnBothApis() throws Exception {
        for (String path : new String[] {"/v1/stream/h?offset=-1&a=%zz", "/v1/responses/resp_x?a=%zz"}) {
            String answer = raw("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            assertJsonError("400", "percent-encoding", answer);
        }
    }

    @Test
    void aBrokenChunkedBodyIs400() throws Exception {
        for (String size : new String[] {"zz", "FFFFFFFFFFFFFFFF"}) {
            String answer = raw("POST /v1/stream/h HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n" + size + "\r\nabc\r\n0\r\n\r\n");
            assertJsonError("400", "could not be", answer);
        }
        assertEquals("", server.get("/v1/stream/h").body(), "nothing of a broken body was appended");
    }

    @Test
    void oversizedRequestLinesAndHeadersGetJsonBodies() throws Exception {
        assertJsonError(
                "414",
                "request line",
                raw("GET /v1/stream/" + "a".repeat(10_000) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        assertJsonError(
                "431",
                "headers",
                raw("GET /v1/stream/h HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + "b".repeat(10_000) + "\r\n\r\n"));
        assertJsonError("400", "HTTP/1.1", raw("NOT A REQUEST\r\n\r\n"));
    }

    @Test
    void otherMajorVersionsAre505AndNewerMinorVersionsAreServedAs11() throws Exception {
        for (String version : new String[] {"HTTP/2.0", "HTTP/9.9", "HTTP/0.9"}) {
            String answer = raw("GET /health " + version + "\r\nHost: 127.0.0.1\r\n\r\n");
            assertJsonError("505", version, answer);
        }
        String newer = raw("GET /health HTTP/1.2\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        assertTrue(newer.startsWith("HTTP/1.1 200"), "RFC 9112 2.6: HTTP/1.2 is answered as 1.1: " + newer);
    }
}
