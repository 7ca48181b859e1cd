package dev.tether.http;

import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Every request gets an id, sent back in {@code x-request-id}, written into error bodies and log
 * lines, so a user's report ("request id req_…") leads to the log line. A well-formed id the client
 * sent (e.g. from a proxy) is kept; anything else is replaced.
 *
 * <p>Stateless.
 */
final class RequestIds {
    static final String HEADER = "x-request-id";
    private static final CharSequence HEADER_NAME = io.vertx.core.http.HttpHeaders.createOptimized(HEADER);
    private static final Pattern ACCEPTED = Pattern.compile("[A-Za-z0-9._:-]{1,64}");

    private RequestIds() {}

    /** Assigns the request its id (the response header holds it) and returns it. */
    static String assign(HttpServerRequest req) {
        String sent = req.getHeader(HEADER);
        String id = sent != null && ACCEPTED.matcher(sent).matches() ? sent : generate();
        req.response().putHeader(HEADER_NAME, id);
        return id;
    }

    /** The id assigned to the request this response answers, or a fresh one. */
    static String of(HttpServerResponse res) {
        String id = res.headers().get(HEADER);
        return id != null ? id : generate();
    }

    static String generate() {
        return "req_" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
    }
}
