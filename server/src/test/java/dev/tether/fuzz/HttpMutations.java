package dev.tether.fuzz;

import java.util.List;

/**
 * Mutations every HTTP area shares: method, path, query, headers, content type, authorization.
 * Each records its name in the case's kind.
 */
final class HttpMutations {
    static final List<String> METHODS = List.of(
            "GET",
            "HEAD",
            "PUT",
            "POST",
            "DELETE",
            "OPTIONS",
            "PATCH",
            "TRACE",
            "CONNECT",
            "PROPFIND",
            "FOO",
            "get",
            "Post",
            "M-SEARCH",
            "A".repeat(200),
            "GET/",
            "PRI");

    static final List<String> CONTENT_TYPES = List.of(
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=utf-16",
            "APPLICATION/JSON",
            "application/json;;;",
            "application/jsonx",
            "text/plain",
            "text/plain; charset=latin1",
            "text/",
            "/",
            "*/*",
            "application/octet-stream",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "a/b/c",
            "",
            " ",
            "application/json; charset=\"",
            "text/event-stream",
            "application/json, text/plain",
            "x".repeat(3_000));

    static final List<String> HEADER_NAMES = List.of(
            "Content-Type",
            "Stream-TTL",
            "Stream-Expires-At",
            "Stream-Closed",
            "Stream-Seq",
            "Producer-Id",
            "Producer-Epoch",
            "Producer-Seq",
            "Stream-Forked-From",
            "Stream-Fork-Offset",
            "Stream-Fork-Sub-Offset",
            "If-None-Match",
            "Last-Event-ID",
            "Accept",
            "Accept-Encoding",
            "Range",
            "Expect",
            "Connection",
            "Upgrade",
            "Origin",
            "Cookie",
            "X-Forwarded-For",
            "X-Forwarded-Host",
            "Idempotency-Key",
            "OpenAI-Beta",
            "Sec-WebSocket-Version",
            "Content-Encoding",
            "Host");

    private HttpMutations() {}

    /** Applies one random shared mutation. */
    static void any(Dice d, RequestBuilder r) {
        switch (d.below(9)) {
            case 0 -> method(d, r);
            case 1, 2 -> path(d, r);
            case 3, 4 -> query(d, r);
            case 5 -> header(d, r);
            case 6 -> contentType(d, r);
            case 7 -> auth(d, r);
            default -> headerFlood(d, r);
        }
    }

    static void method(Dice d, RequestBuilder r) {
        r.mutated("method");
        r.method = d.pick(METHODS);
    }

    static void path(Dice d, RequestBuilder r) {
        r.mutated("path");
        switch (d.below(7)) {
            case 0 -> r.path = r.path + "/" + Nasty.pathSegment(d);
            case 1 -> {
                int slash = r.path.lastIndexOf('/');
                r.path = r.path.substring(0, slash + 1) + Nasty.pathSegment(d);
            }
            case 2 ->
                r.path = r.path.replaceFirst(
                        "/",
                        java.util.regex.Matcher.quoteReplacement(
                                d.pick("//", "/./", "/../", "/%2e%2e/", "/%2F", "\\")));
            case 3 -> r.path = r.path + "/" + d.pick("a", "%41", "\u00e9").repeat(d.pick(1_000, 1_100, 5_000, 20_000));
            case 4 -> r.path = r.path + d.pick("/", "//", "/.", "/..", "/...", ";x=1", "%", "%2", "%zz", "?", "#f");
            case 5 -> r.path = d.pick("*", "", "http://127.0.0.1/v1/stream/x", "v1/stream/x", "/" + r.path);
            default -> r.path = r.path.toUpperCase(java.util.Locale.ROOT);
        }
    }

    static void query(Dice d, RequestBuilder r) {
        r.mutated("query");
        switch (d.below(8)) {
            case 0 ->
                r.param(
                        d.pick("offset", "live", "cursor", "stream", "starting_after", "limit", "order", "after"),
                        Nasty.percentEncode(Nasty.string(d)));
            case 1 -> r.param(d.pick("offset", "live", "cursor", "a", "limit"), d.pick(Nasty.ESCAPES));
            case 2 -> r.param(d.pick(Nasty.ESCAPES), d.pick("1", "", null));
            case 3 ->
                r.param(d.pick("offset", "limit", "starting_after", "cursor"), Nasty.percentEncode(Nasty.number(d)));
            case 4 -> {
                int n = d.pick(2, 50, 2_000);
                for (int i = 0; i < n; i++) {
                    r.param(d.pick("offset", "a" + i, "live"), d.pick("-1", "now", "x", ""));
                }
            }
            case 5 -> r.param(d.pick("live", "offset"), d.pick("sse", "long-poll", "SSE", "long-poll%00", "ws", ""));
            case 6 -> r.param(d.pick("", "=", "&", "&&", "a=b=c", "%"), null);
            default -> r.query.clear();
        }
    }

    static void header(Dice d, RequestBuilder r) {
        r.mutated("header");
        String name = d.pick(HEADER_NAMES);
        String value = headerValue(d);
        switch (d.below(3)) {
            case 0 -> r.setHeader(name, value);
            case 1 -> r.header(name, value); // may duplicate an existing one
            default -> {
                if (!r.headers.isEmpty()) {
                    FuzzCase.Header h = d.pick(r.headers);
                    r.header(h.name(), d.chance(0.5) ? h.value() : value);
                } else {
                    r.setHeader(name, value);
                }
            }
        }
    }

    static String headerValue(Dice d) {
        return switch (d.below(7)) {
            case 0 -> Nasty.number(d);
            case 1 -> {
                String s = Nasty.string(d);
                yield s.length() > 7_000 ? s.substring(0, 7_000) : s;
            }
            case 2 ->
                d.pick(
                        "1970-01-01T00:00:00Z",
                        "9999-12-31T23:59:59Z",
                        "2030-02-30T00:00:00Z",
                        "2030-01-01T00:00:00+99:00",
                        "+999999999-12-31T23:59:59Z",
                        "2030-01-01",
                        "Thu, 01 Jan 2030 00:00:00 GMT",
                        "2030-01-01t00:00:00z");
            case 3 -> d.pick("true", "TRUE", "false", "yes", "1", "true, true", "");
            case 4 ->
                d.pick(
                        "/v1/stream/",
                        "/v1/stream/../x",
                        "http://evil.example/v1/stream/x",
                        "/v1/stream/%zz",
                        "/v1/stream/a",
                        "0000000000000000_0000000000000000",
                        "-1",
                        "now",
                        "100-continue",
                        "close",
                        "upgrade",
                        "websocket",
                        "h2c",
                        "gzip",
                        "bytes=0-1",
                        "*",
                        "\"etag\"",
                        "W/\"x\"");
            case 5 -> Text.fromLatin1(FuzzCase.utf8(d.pick("\u00e9t\u00e9", "\u4e2d\u6587", "\ud83d\ude00", "\u202e")));
            default -> Text.fromLatin1(d.pick(Nasty.BAD_UTF8));
        };
    }

    static void contentType(Dice d, RequestBuilder r) {
        r.mutated("ctype");
        if (d.chance(0.2)) {
            r.setHeader("Content-Type", null);
        } else {
            r.setHeader("Content-Type", d.pick(CONTENT_TYPES));
        }
    }

    static void auth(Dice d, RequestBuilder r) {
        r.mutated("auth");
        switch (d.below(4)) {
            case 0 -> r.withAuth = false;
            case 1 ->
                r.setHeader(
                        "Authorization",
                        d.pick("Bearer", "Bearer ", "bearer x", "Basic dXNlcjpwYXNz", "Bearer " + "a".repeat(5_000)));
            case 2 -> r.setHeader("Authorization", "Bearer " + Nasty.string(d));
            default -> {
                r.header("Authorization", "Bearer wrong");
                r.header("Authorization", "Bearer also-wrong");
            }
        }
    }

    /** Many headers, or one huge one (past the server's header-size limit). */
    static void headerFlood(Dice d, RequestBuilder r) {
        if (d.chance(0.5)) {
            r.mutated("manyheaders");
            int n = d.pick(100, 1_000);
            for (int i = 0; i < n; i++) {
                r.header("X-F" + i, d.word(1, 8));
            }
        } else {
            r.mutated("hugeheader");
            r.header(d.pick("X-Big", "Stream-Seq", "Producer-Id", "Cookie"), "v".repeat(d.pick(8_000, 9_000, 70_000)));
        }
    }
}
