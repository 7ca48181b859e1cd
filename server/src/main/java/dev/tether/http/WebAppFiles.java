package dev.tether.http;

import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The built web app ({@code --web-root}, Vite's output) at {@code /}: {@code /} is {@code
 * index.html}, any other path a file under the root. The files hold no data, so no credentials are
 * asked for; {@link HttpRoutes} sends only GET and HEAD requests outside the API's paths here.
 *
 * <p>A path is checked twice before a file is opened: as text (percent-decoded once, UTF-8; no
 * empty segment, no segment starting with a dot, so neither {@code ..} nor hidden files; no
 * control character or backslash), then on disk (its real path, symlinks resolved, must lie under
 * the root's real path). A path failing either is a 404 like a missing file. The root is looked at
 * on every request, so a rebuild is served without a restart.
 *
 * <p>Lookups and opens run on virtual threads (a disk may block; the event loop must not), at most
 * one per connection, so the connection limit bounds them; files go out with {@code sendFile}
 * (zero-copy). Names under {@code /assets/} carry a content hash (Vite), so they are cached for good;
 * everything else is revalidated.
 *
 * <p>Stateless apart from the executor; shared by all event loops.
 */
final class WebAppFiles {
    private static final String INDEX = "index.html";
    private static final String ASSETS = "assets/";
    private static final String IMMUTABLE = "public, max-age=31536000, immutable";
    private static final String NO_ROOT = "the web app is not built or not served (no --web-root was given): run"
            + " scripts/build-web.sh and pass --web-root web/app/dist, or start the server with ./tether serve,"
            + " which does both when npm is available";
    private static final String NO_INDEX = "the web app is not built (no " + INDEX + " in the --web-root directory):"
            + " run scripts/build-web.sh, or start the server with ./tether serve, which builds it when npm is available";
    private static final Map<String, String> TYPES = Map.ofEntries(
            Map.entry("html", "text/html; charset=utf-8"),
            Map.entry("js", "text/javascript; charset=utf-8"),
            Map.entry("mjs", "text/javascript; charset=utf-8"),
            Map.entry("css", "text/css; charset=utf-8"),
            Map.entry("svg", "image/svg+xml"),
            Map.entry("png", "image/png"),
            Map.entry("json", "application/json"),
            Map.entry("map", "application/json"),
            Map.entry("ico", "image/x-icon"),
            Map.entry("woff2", "font/woff2"),
            Map.entry("txt", "text/plain; charset=utf-8"));

    /** What a lookup on disk found. */
    private sealed interface Lookup {}

    /** A regular file under the root; {@code channel} is open for a GET, null for a HEAD. */
    private record Found(String name, FileChannel channel, long size) implements Lookup {}

    /** No such file, or one outside the root. */
    private record Missing() implements Lookup {}

    /** The root has no {@code index.html}: the web app was never built (or is being rebuilt). */
    private record NotBuilt() implements Lookup {}

    private final Path root;
    private final ExecutorService disk = Executors.newVirtualThreadPerTaskExecutor();

    /** @param root the web app's directory, or null when none was configured */
    WebAppFiles(Path root) {
        this.root = root;
    }

    /** Answers {@code req} with its file, or a 404 in the error envelope. Call on the request's event loop. */
    void serve(HttpServerRequest req) {
        String path = req.path();
        if (root == null) {
            throw notBuilt(path, NO_ROOT);
        }
        String relative = relative(path);
        if (relative == null) {
            throw missing(path);
        }
        boolean head = req.method() == HttpMethod.HEAD;
        LoopExecutor.current()
                .adapt(CompletableFuture.supplyAsync(() -> lookup(relative, head), disk))
                .onComplete(ar -> {
                    if (ar.failed()) {
                        HttpRoutes.fail(req, ar.cause());
                        return;
                    }
                    try {
                        send(req, ar.result());
                    } catch (RuntimeException e) {
                        HttpRoutes.fail(req, e);
                    }
                });
    }

    private static void send(HttpServerRequest req, Lookup lookup) {
        switch (lookup) {
            case Missing m -> throw missing(req.path());
            case NotBuilt n -> throw notBuilt(req.path(), NO_INDEX);
            case Found f -> {
                HttpServerResponse res = req.response();
                ProtocolHeaders.security(res);
                res.putHeader("Content-Type", contentType(f.name()));
                res.putHeader("Cache-Control", f.name().startsWith(ASSETS) ? IMMUTABLE : "no-cache");
                if (f.channel() == null) {
                    res.putHeader("Content-Length", Long.toString(f.size()));
                    res.setStatusCode(200).end();
                    return;
                }
                try {
                    res.setStatusCode(200).sendFile(f.channel()).onComplete(ar -> close(f.channel()));
                } catch (RuntimeException e) {
                    close(f.channel());
                    throw e;
                }
            }
        }
    }

    /** Runs on a virtual thread. */
    private Lookup lookup(String relative, boolean head) {
        try {
            Path base = root.toRealPath();
            Path file = base.resolve(relative).toRealPath();
            if (!file.startsWith(base) || !Files.isRegularFile(file)) {
                return absent();
            }
            if (head) {
                return new Found(relative, null, Files.size(file));
            }
            // The real path, not followed again: a link swapped in since toRealPath is not opened.
            FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            try {
                return new Found(relative, channel, channel.size());
            } catch (IOException e) {
                close(channel);
                throw e;
            }
        } catch (IOException | InvalidPathException e) {
            // Missing, unreadable, a name too long for the file system: nothing a client can be given.
            return absent();
        }
    }

    private Lookup absent() {
        return Files.isRegularFile(root.resolve(INDEX)) ? new Missing() : new NotBuilt();
    }

    /**
     * The file a raw request path names, relative to the root, or null when the path is not a plain
     * file path ({@code ..}, {@code %2e%2e}, {@code //}, a hidden file, bad escapes).
     */
    static String relative(String rawPath) {
        if (rawPath.equals("/")) {
            return INDEX;
        }
        if (!rawPath.startsWith("/")) {
            return null;
        }
        String path = percentDecode(rawPath.substring(1));
        if (path == null) {
            return null;
        }
        for (String segment : path.split("/", -1)) {
            if (segment.isEmpty() || segment.startsWith(".")) {
                return null;
            }
        }
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\\') {
                return null;
            }
        }
        return path;
    }

    /** Decodes {@code %XX} once; null for a malformed escape, a raw non-ASCII character or bytes that are not UTF-8. */
    private static String percentDecode(String raw) {
        if (!raw.chars().allMatch(c -> c < 0x80)) {
            return null;
        }
        try {
            return Utf8.percentDecode(raw);
        } catch (IllegalArgumentException | CharacterCodingException e) {
            return null;
        }
    }

    private static String contentType(String name) {
        int dot = name.lastIndexOf('.');
        String ext = dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
        return TYPES.getOrDefault(ext, "application/octet-stream");
    }

    private static Refusal missing(String path) {
        return Refusal.of(
                Condition.NOT_FOUND,
                "not_found",
                "no such endpoint or file: " + path + " (the API lives under /v1/, the web app's files under /)");
    }

    private static Refusal notBuilt(String path, String why) {
        String what = path.equals("/") ? "" : "no such endpoint or file: " + path + "; ";
        return Refusal.of(Condition.NOT_FOUND, "web_app_not_built", what + why);
    }

    private static void close(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            // a read-only file: nothing was lost
        }
    }
}
