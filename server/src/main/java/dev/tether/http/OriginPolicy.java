package dev.tether.http;

import dev.tether.config.ServerConfig;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which web pages may drive this server (CORS) and which host names it answers to. A page on
 * another origin must not be able to append to, delete or read streams just because the server is
 * reachable (finding 15 of the outside probe):
 *
 * <ul>
 *   <li>A request carrying an {@code Origin} that is neither allowed ({@code --cors-origin}) nor the
 *       server's own origin is refused with 403, whatever its method: simple requests (a text/plain
 *       POST, a WebSocket upgrade) are never preflighted, so headers alone would not stop them.
 *   <li>In open mode (no auth), the allowed origins default to loopback pages, and the {@code Host}
 *       must be a loopback name: a DNS-rebinding page (evil.example resolving to 127.0.0.1) is refused.
 *   <li>Responses to allowed origins carry {@code Access-Control-Allow-Origin} (the origin, or
 *       {@code *} when configured); credentials are bearer tokens, never cookies, so {@code
 *       Access-Control-Allow-Credentials} is never sent.
 * </ul>
 *
 * <p>Immutable and shared by all event loops.
 */
final class OriginPolicy {

    private final boolean any;
    private final Set<String> origins;
    private final boolean loopbackOrigins;
    private final boolean checkHost;

    /**
     * @param configured     {@code --cors-origin} values, validated and lower-cased ({@code *} for any)
     * @param openOnLoopback no auth and bound to loopback: loopback pages allowed, Host checked
     */
    OriginPolicy(List<String> configured, boolean openOnLoopback) {
        this.any = configured.contains("*");
        this.origins = configured.stream().filter(o -> !o.equals("*")).collect(Collectors.toUnmodifiableSet());
        this.loopbackOrigins = openOnLoopback;
        this.checkHost = openOnLoopback;
    }

    /** Refuses a request from a foreign page or for a foreign host name (403). */
    void check(HttpServerRequest req) {
        if (checkHost
                && !ServerConfig.isLoopbackName(
                        req.authority() == null ? null : req.authority().host())) {
            throw new Refusal(
                    Condition.FORBIDDEN,
                    "host_not_allowed",
                    null,
                    "this server answers to loopback names only (localhost, 127.0.0.1, [::1]) while it runs"
                            + " without --auth-config");
        }
        String origin = req.getHeader("Origin");
        if (origin != null && !allowed(origin) && !sameOrigin(origin, req)) {
            throw new Refusal(
                    Condition.FORBIDDEN,
                    "origin_not_allowed",
                    null,
                    "requests from pages on " + origin + " are not allowed; start the server with --cors-origin "
                            + origin + " to allow them");
        }
    }

    /** CORS headers for an allowed origin (none otherwise, so a browser blocks the page). */
    void headers(HttpServerRequest req, HttpServerResponse res) {
        String origin = req.getHeader("Origin");
        if (origin == null) {
            return;
        }
        if (any) {
            res.putHeader("Access-Control-Allow-Origin", "*");
        } else if (allowed(origin) || sameOrigin(origin, req)) {
            res.putHeader("Access-Control-Allow-Origin", origin);
            res.putHeader("Vary", "Origin");
        }
    }

    private boolean allowed(String origin) {
        if (any) {
            return true;
        }
        String o = origin.trim().toLowerCase(Locale.ROOT);
        if (origins.contains(o)) {
            return true;
        }
        if (!loopbackOrigins) {
            return false;
        }
        try {
            URI uri = new URI(o);
            return ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
                    && ServerConfig.isLoopbackName(uri.getHost());
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    /** A page served by this server itself (the web app): its origin is the request's own authority. */
    private static boolean sameOrigin(String origin, HttpServerRequest req) {
        if (req.authority() == null) {
            return false;
        }
        String self = req.authority().toString().toLowerCase(Locale.ROOT);
        String o = origin.trim().toLowerCase(Locale.ROOT);
        return o.equals("http://" + self) || o.equals("https://" + self);
    }
}
