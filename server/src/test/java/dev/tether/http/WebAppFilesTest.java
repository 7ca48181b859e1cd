package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.AuthFixture;
import dev.tether.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web app at {@code /} ({@code --web-root}): files by name with their content type and cache
 * policy, no way out of the root (dot segments in any encoding, absolute paths, symlinks), a 404 in
 * the error envelope for anything else, no credentials for files while the API keeps asking for
 * them, and a 404 that says how to build the app when there is none.
 */
class WebAppFilesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SECRET = "SECRET-outside-the-web-root";
    private static final String INDEX =
            "<!doctype html><title>Tether</title><script type=module src=/assets/index-abc123.js>";
    private static final String SCRIPT = "console.log('tether');";

    @TempDir
    Path dir;

    private Path site;

    /**
     * {@code dir/site} is the root; next to it lie files a traversal would reach ({@code
     * dir/secret.txt}, {@code dir/pom.xml}, {@code dir/elsewhere/secret.txt}), and inside it links
     * pointing out (and one pointing in, which is fine).
     */
    @BeforeEach
    void layout() throws Exception {
        site = Files.createDirectories(dir.resolve("site"));
        Files.createDirectories(site.resolve("assets"));
        Files.writeString(site.resolve("index.html"), INDEX);
        Files.writeString(site.resolve("usechat.html"), "<!doctype html><title>useChat</title>");
        Files.writeString(site.resolve("assets/index-abc123.js"), SCRIPT);
        Files.writeString(site.resolve("assets/index-abc123.css"), "body{margin:0}");
        Files.write(site.resolve("favicon.ico"), new byte[] {0, 0, 1, 0});
        Files.writeString(site.resolve(".env"), SECRET);
        Files.writeString(dir.resolve("secret.txt"), SECRET);
        Files.writeString(dir.resolve("pom.xml"), SECRET);
        Files.writeString(Files.createDirectories(dir.resolve("elsewhere")).resolve("secret.txt"), SECRET);
        Files.createSymbolicLink(site.resolve("leak.txt"), dir.resolve("secret.txt"));
        Files.createSymbolicLink(site.resolve("linked"), dir.resolve("elsewhere"));
        Files.createSymbolicLink(site.resolve("latest.js"), Path.of("assets/index-abc123.js"));
    }

    /** A raw answer: the JDK client cannot send some of these paths, nor a Host of our choice. */
    record Answer(int status, String head, String body) {
        String header(String name) {
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).equalsIgnoreCase(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
            return null;
        }
    }

    static Answer raw(int port, String method, String target, String... headers) throws Exception {
        StringBuilder request = new StringBuilder(
                method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nConnection: close\r\n");
        for (String h : headers) {
            request.append(h).append("\r\n");
        }
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(request.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            in.transferTo(all);
            String text = all.toString(StandardCharsets.UTF_8);
            int end = text.indexOf("\r\n\r\n");
            assertTrue(end > 0, "a whole response head for " + target + ": " + text);
            String head = text.substring(0, end);
            return new Answer(Integer.parseInt(head.substring(9, 12)), head, text.substring(end + 4));
        }
    }

    private static JsonNode error(String body) throws Exception {
        return JSON.readTree(body).path("error");
    }

    @Test
    void theRootServesIndexHtmlAndOtherPathsTheirFiles() throws Exception {
        try (TestServer server = TestServer.start(dir.resolve("data"), c -> c.webRoot(site))) {
            Answer root = raw(server.port(), "GET", "/");
            assertEquals(200, root.status(), root.body());
            assertEquals(INDEX, root.body(), "/ is index.html");
            assertEquals("text/html; charset=utf-8", root.header("Content-Type"));
            assertEquals("no-cache", root.header("Cache-Control"), "the page names the current assets: revalidate it");
            assertEquals("nosniff", root.header("X-Content-Type-Options"));

            Answer usechat = raw(server.port(), "GET", "/usechat.html");
            assertEquals(200, usechat.status(), usechat.body());
            assertTrue(usechat.body().contains("useChat"), usechat.body());
            assertEquals("text/html; charset=utf-8", usechat.header("Content-Type"));
            assertEquals(
                    "image/x-icon", raw(server.port(), "GET", "/favicon.ico").header("Content-Type"));
            assertEquals(SCRIPT, raw(server.port(), "GET", "/latest.js").body(), "a link inside the root is followed");
        }
    }

    @Test
    void hashedAssetsAreImmutableWithTheirContentType() throws Exception {
        try (TestServer server = TestServer.start(dir.resolve("data"), c -> c.webRoot(site))) {
            Answer js = raw(server.port(), "GET", "/assets/index-abc123.js");
            assertEquals(200, js.status(), js.body());
            assertEquals(SCRIPT, js.body());
            assertEquals("text/javascript; charset=utf-8", js.header("Content-Type"));
            assertEquals("public, max-age=31536000, immutable", js.header("Cache-Control"), "Vite names carry a hash");
            assertEquals(Integer.toString(SCRIPT.length()), js.header("Content-Length"));
            Answer css = raw(server.port(), "GET", "/assets/index-abc123.css");
            assertEquals("text/css; charset=utf-8", css.header("Content-Type"));
            assertEquals("public, max-age=31536000, immutable", css.header("Cache-Control"));

            Answer head = raw(server.port(), "HEAD", "/assets/index-abc123.js");
            assertEquals(200, head.status());
            assertEquals(Integer.toString(SCRIPT.length()), head.header("Content-Length"), "HEAD: the GET's length");
            assertEquals("", head.body(), "HEAD: no body");
        }
    }

    @Test
    void nothingOutsideTheRootIsServedWhateverThePathSays() throws Exception {
        String outside = dir.resolve("secret.txt").toAbsolutePath().toString();
        List<String> attempts = List.of(
                "/../pom.xml",
                "/..%2fpom.xml",
                "/%2e%2e/x",
                "/%2e%2e/secret.txt",
                "/%2E%2E/secret.txt",
                "/.%2e/secret.txt",
                "/assets/..%2f..%2fsecret",
                "/assets/..%2f..%2fsecret.txt",
                "/assets/%2e%2e/%2e%2e/secret.txt",
                "/assets/../../secret.txt",
                "/assets/..%5c..%5csecret.txt",
                "/%252e%252e/secret.txt",
                "/%c0%ae%c0%ae/secret.txt",
                "/%00/secret.txt",
                "/" + outside,
                "/%2f" + outside.substring(1).replace("/", "%2f"),
                "/leak.txt",
                "/linked/secret.txt",
                "/.env");
        try (TestServer server = TestServer.start(dir.resolve("data"), c -> c.webRoot(site))) {
            for (String target : attempts) {
                Answer a = raw(server.port(), "GET", target);
                assertEquals(404, a.status(), target + " must be a 404: " + a.head());
                assertFalse(a.body().contains(SECRET), target + " leaked a file outside the root: " + a.body());
                assertEquals("not_found", error(a.body()).path("code").asText(), target + ": " + a.body());
            }
        }
    }

    @Test
    void onlyPlainRelativePathsNameAFile() {
        assertEquals("index.html", WebAppFiles.relative("/"));
        assertEquals("assets/index-abc123.js", WebAppFiles.relative("/assets/index-abc123.js"));
        assertEquals("a b.txt", WebAppFiles.relative("/a%20b.txt"), "escapes are decoded once");
        assertEquals("%2e%2e/x", WebAppFiles.relative("/%252e%252e/x"), "and only once");
        for (String raw : List.of(
                "/../pom.xml",
                "/%2e%2e/x",
                "/assets/..%2f..%2fsecret",
                "/./index.html",
                "//etc/passwd",
                "/%2fetc%2fpasswd",
                "/assets/",
                "/.env",
                "/a%5cb",
                "/a%00b",
                "/%c0%ae%c0%ae/x",
                "/%zz",
                "/caf\u00e9",
                "*")) {
            assertNull(WebAppFiles.relative(raw), raw + " must name no file");
        }
    }

    @Test
    void unknownFilesAre404InTheErrorEnvelopeAndTheApiKeepsItsRoutes() throws Exception {
        try (TestServer server = TestServer.start(dir.resolve("data"), c -> c.webRoot(site))) {
            HttpResponse<String> missing = server.get("/assets/index-old999.js");
            assertEquals(404, missing.statusCode(), missing.body());
            assertEquals(
                    "application/json",
                    missing.headers().firstValue("Content-Type").orElse(null));
            JsonNode e = error(missing.body());
            assertEquals("not_found", e.path("code").asText());
            assertTrue(e.path("message").asText().contains("/assets/index-old999.js"), missing.body());
            assertFalse(e.path("request_id").asText().isEmpty(), "the envelope carries the request id");
            assertEquals(404, server.get("/assets/").statusCode(), "a directory is no file");

            assertEquals(200, server.get("/health").statusCode());
            assertEquals(200, server.get("/metrics").statusCode());
            assertEquals(201, server.put("/v1/stream/web/a", "text/plain").statusCode());
            assertEquals(
                    204, server.post("/v1/stream/web/a", "text/plain", "hi").statusCode());
            assertEquals("hi", server.get("/v1/stream/web/a?offset=-1").body());
            HttpResponse<String> noEndpoint = server.get("/v1/nope");
            assertEquals(404, noEndpoint.statusCode());
            assertTrue(noEndpoint.body().contains("no such endpoint"), "/v1 is the API's: " + noEndpoint.body());
            HttpResponse<String> post = server.send(server.request("/index.html")
                    .POST(BodyPublishers.ofString("x"))
                    .build());
            assertEquals(404, post.statusCode(), "files are only read: " + post.body());
        }
    }

    @Test
    void withAuthTheAppNeedsNoTokenWhileTheApiStillDoes() throws Exception {
        AuthFixture auth = AuthFixture.create(dir.resolve("auth"));
        try (TestServer server = TestServer.start(
                dir.resolve("data"), c -> c.authConfig(auth.config()).webRoot(site))) {
            int port = server.port();
            Answer page = raw(port, "GET", "/", "Accept: text/html");
            assertEquals(200, page.status(), "a browser opens the app without a token: " + page.body());
            Answer module = raw(port, "GET", "/assets/index-abc123.js", "Origin: http://127.0.0.1:" + port);
            assertEquals(200, module.status(), "a module script is fetched with the page's Origin: " + module.body());

            for (String api : List.of("/v1/stream/web/a", "/metrics", "/v1/sessions")) {
                Answer refused = raw(port, "GET", api);
                assertEquals(401, refused.status(), api + " still needs credentials: " + refused.body());
            }
            Answer post = raw(port, "POST", "/", "Content-Length: 0");
            assertEquals(401, post.status(), "only GET and HEAD are file reads: " + post.body());
            Answer token = raw(port, "PUT", "/v1/stream/web/a", "Authorization: Bearer " + AuthFixture.BACKEND);
            assertEquals(201, token.status(), "with a key the API works: " + token.body());
            Answer foreign = raw(port, "GET", "/", "Origin: http://evil.example");
            assertEquals(403, foreign.status(), "the origin policy still applies: " + foreign.body());
        }
    }

    @Test
    void withoutABuiltAppTheRootSaysHowToBuildIt() throws Exception {
        try (TestServer server = TestServer.start(dir.resolve("data"), c -> c)) {
            HttpResponse<String> root = server.get("/");
            assertEquals(404, root.statusCode(), root.body());
            assertEquals("web_app_not_built", error(root.body()).path("code").asText());
            assertTrue(root.body().contains("scripts/build-web.sh"), "says how to build it: " + root.body());
            assertTrue(root.body().contains("--web-root"), root.body());
            assertTrue(server.get("/nope").body().contains("no such endpoint"), "other paths still say so");
        }
        Path empty = Files.createDirectories(dir.resolve("unbuilt"));
        try (TestServer server = TestServer.start(dir.resolve("data"), c -> c.webRoot(empty))) {
            HttpResponse<String> root = server.get("/");
            assertEquals(404, root.statusCode(), root.body());
            assertEquals("web_app_not_built", error(root.body()).path("code").asText());
            assertTrue(root.body().contains("scripts/build-web.sh"), "says how to build it: " + root.body());
            assertTrue(root.body().contains("./tether serve"), root.body());

            Files.writeString(empty.resolve("index.html"), INDEX);
            assertEquals(INDEX, server.get("/").body(), "a build appearing later is served without a restart");
        }
    }
}
