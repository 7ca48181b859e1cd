package dev.tether.fuzz;

import dev.tether.fuzz.FuzzCase.RawExpect;
import java.util.ArrayList;
import java.util.List;

/**
 * Bytes no HTTP client library would send: bad request lines and versions, broken headers,
 * conflicting or malformed body framing (chunk sizes {@code zz}, {@code FFFFFFFFFFFFFFFF}),
 * truncated bodies, pipelining, HTTP/2 prefaces and plain garbage. Cases that leave the server
 * waiting for more input half-close the connection, as a client that gives up would, so a
 * correct server can always answer or close at once.
 */
final class RawCases {
    private RawCases() {}

    static FuzzCase.Raw generate(CaseId id, Target t, Fixtures fx, Dice d) {
        String text = "/v1/stream/" + fx.streams().getFirst().path();
        String post = d.pick(text, "/v1/noop", "/v1/responses", "/v1/conversations");
        String type = post.equals(text) ? "text/plain" : "application/json";
        String body = post.equals(text) ? "hello" : "{\"model\":\"tiny\",\"input\":\"hi\",\"max_output_tokens\":2}";
        return switch (d.below(11)) {
            case 0 -> version(id, t, d);
            case 1 -> requestLine(id, t, d);
            case 2, 3 -> headers(id, t, d);
            case 4, 5 -> framing(id, t, d, post, type, body);
            case 6 -> pipeline(id, t, d, text, body);
            case 7 -> h2(id, t, d);
            case 8 -> garbage(id, d);
            case 9 ->
                raw(
                        id,
                        "raw.lf",
                        Text.latin1("GET /health HTTP/1.1\nHost: " + t.hostHeader() + "\n" + t.authLine() + "\n"),
                        false,
                        RawExpect.answerOrClose());
            default -> forms(id, t, d);
        };
    }

    private static FuzzCase.Raw raw(CaseId id, String kind, byte[] bytes, boolean halfClose, RawExpect expect) {
        return new FuzzCase.Raw(id, kind, bytes, halfClose, List.of("GET"), expect);
    }

    private static String head(Target t, String requestLine, String... headerLines) {
        StringBuilder sb = new StringBuilder(requestLine)
                .append("\r\nHost: ")
                .append(t.hostHeader())
                .append("\r\n");
        sb.append(t.authLine());
        for (String h : headerLines) {
            sb.append(h).append("\r\n");
        }
        return sb.append("\r\n").toString();
    }

    private static FuzzCase.Raw version(CaseId id, Target t, Dice d) {
        String v = d.pick(
                "HTTP/2.0",
                "HTTP/9.9",
                "HTTP/3.0",
                "HTTP/2",
                "HTTP/1.2",
                "HTTP/0.9",
                "http/1.1",
                "HTTP/1.10",
                "HTTP/01.1",
                "HTTP/1.1 ",
                "HTTP/1.1\t",
                "HTTP/",
                "HTTPS/1.1",
                "");
        String path = d.pick("/health", "/v1/responses", "/v1/stream/x");
        RawExpect expect =
                switch (v) {
                    // RFC 9110 §15.6.6: 505 refuses a major version; 400 is acceptable for a line that is not HTTP/1
                    case "HTTP/2.0", "HTTP/9.9", "HTTP/3.0", "HTTP/2", "HTTP/0.9" ->
                        new RawExpect(1, List.of(400, 505), false);
                    case "HTTP/1.2" -> RawExpect.anyAnswer(); // an unknown minor version is served as 1.1
                    default -> RawExpect.answerOrClose();
                };
        return raw(
                id,
                "raw.version " + v.trim(),
                Text.latin1(head(t, "GET " + path + (v.isEmpty() ? "" : " " + v))),
                false,
                expect);
    }

    private static FuzzCase.Raw requestLine(CaseId id, Target t, Dice d) {
        String line = d.pick(
                "GET",
                "GET /health",
                "GET  /health  HTTP/1.1",
                "GET /health HTTP/1.1 extra",
                " GET /health HTTP/1.1",
                "GET\t/health\tHTTP/1.1",
                "\r\n\r\nGET /health HTTP/1.1",
                "GET /he alth HTTP/1.1",
                "GET /health\u0000 HTTP/1.1",
                "GET /" + "a".repeat(d.pick(4_100, 9_000, 70_000)) + " HTTP/1.1",
                "G(T /health HTTP/1.1",
                "GET /v1/stream/%zz HTTP/1.1",
                "GET /v1/responses?%zz HTTP/1.1",
                "GET /v1/stream/a?a=%zz HTTP/1.1",
                "GET /v1/stream/\u00c0\u00ae HTTP/1.1",
                "GET //// HTTP/1.1",
                "GET ../../etc/passwd HTTP/1.1",
                "GET /v1/stream/a/../../health HTTP/1.1",
                "GET # HTTP/1.1");
        return raw(id, "raw.requestline", Text.latin1(head(t, line)), false, RawExpect.answerOrClose());
    }

    private static FuzzCase.Raw headers(CaseId id, Target t, Dice d) {
        String req = "GET " + d.pick("/health", "/v1/stream/x", "/v1/responses/resp_x") + " HTTP/1.1";
        String[] lines =
                switch (d.below(12)) {
                    case 0 -> new String[] {"X-Folded: a", " b"};
                    case 1 -> new String[] {"Content-Type : text/plain"};
                    case 2 -> new String[] {"JustJunk"};
                    case 3 -> new String[] {"X-Nul: a\u0000b"};
                    case 4 -> new String[] {"X-\u00e9\u00ff: v"};
                    case 5 -> new String[] {": empty-name"};
                    case 6 -> many(d.pick(200, 2_000));
                    case 7 -> new String[] {"X-Big: " + "v".repeat(d.pick(8_200, 20_000))};
                    case 8 -> new String[] {"Host: other.example"};
                    case 9 -> new String[] {"Content-Length: 0", "Content-Length: 0"};
                    case 10 -> new String[] {"X-Bad: \u007f\u0001"};
                    default ->
                        new String[] {"Connection: keep-alive, Upgrade", "Upgrade: " + d.pick("websocket", "h2c", "foo")
                        };
                };
        return raw(id, "raw.headers", Text.latin1(head(t, req, lines)), false, RawExpect.answerOrClose());
    }

    private static String[] many(int n) {
        String[] out = new String[n];
        for (int i = 0; i < n; i++) {
            out[i] = "X-H" + i + ": v";
        }
        return out;
    }

    private static FuzzCase.Raw framing(CaseId id, Target t, Dice d, String path, String type, String body) {
        String req = "POST " + path + " HTTP/1.1";
        String ct = "Content-Type: " + type;
        int len = body.length();
        String hex = Integer.toHexString(len);
        int variant = d.below(16);
        // chunk sizes: invalid ones deserve a 400 at once; valid but huge ones make a server wait for data
        String size = d.pick("zz", "FFFFFFFFFFFFFFFF", "-1", "0x5", " ", "\u00ff", "7fffffffffffffff", "100000000");
        boolean hugeSize = size.equals("7fffffffffffffff") || size.equals("100000000");
        String bytes =
                switch (variant) {
                    case 0 ->
                        head(t, req, ct, "Content-Length: " + len, "Transfer-Encoding: chunked") + hex + "\r\n" + body
                                + "\r\n0\r\n\r\n";
                    case 1 -> head(t, req, ct, "Content-Length: " + len, "Content-Length: " + (len + 1)) + body + "x";
                    case 2 ->
                        head(
                                        t,
                                        req,
                                        ct,
                                        "Content-Length: "
                                                + d.pick("-1", "abc", "1 1", "+5", "99999999999999999999", "0x10", ""))
                                + body;
                    case 3 -> head(t, req, ct, "Transfer-Encoding: chunked") + size + "\r\n" + body + "\r\n0\r\n\r\n";
                    case 4 ->
                        head(t, req, ct, "Transfer-Encoding: chunked") + hex + ";"
                                + d.pick("ext", "a=b", "\u0001", "=".repeat(5_000)) + "\r\n" + body + "\r\n0\r\n\r\n";
                    case 5 ->
                        head(
                                        t,
                                        req,
                                        ct,
                                        "Transfer-Encoding: "
                                                + d.pick(
                                                        "gzip",
                                                        "chunked, gzip",
                                                        "identity",
                                                        "xchunked",
                                                        "Chunked",
                                                        "chunked, chunked",
                                                        "chunked\u0000"))
                                + hex + "\r\n" + body + "\r\n0\r\n\r\n";
                    case 6 ->
                        head(t, req, ct, "Transfer-Encoding: chunked", "Transfer-Encoding: identity") + hex + "\r\n"
                                + body + "\r\n0\r\n\r\n";
                    case 7 -> head(t, req, ct, "Content-Length: " + (len + 100)) + body; // truncated, then half-close
                    case 8 ->
                        head(t, req, ct, "Transfer-Encoding: chunked") + hex + "\r\n" + body + "\r\n"; // no last chunk
                    case 9 ->
                        head(t, req, ct, "Transfer-Encoding: chunked") + "ff\r\n" + body
                                + "\r\n0\r\n\r\n"; // size > data
                    case 10 ->
                        head(t, req, ct, "Transfer-Encoding: chunked") + hex + "\r\n" + body
                                + "\r\n0\r\nX-Trailer: 1\r\n\r\n";
                    case 11 ->
                        head(t, req, ct, "Transfer-Encoding: chunked") + hex + "\r\n" + body
                                + "XX0\r\n\r\n"; // no CRLF after data
                    case 12 ->
                        head(
                                        t,
                                        req,
                                        ct,
                                        "Expect: " + d.pick("100-continue", "banana", "100-continue, x"),
                                        "Content-Length: " + len)
                                + body;
                    case 13 ->
                        head(
                                        t,
                                        req,
                                        ct,
                                        "Content-Encoding: " + d.pick("gzip", "br", "deflate"),
                                        "Content-Length: " + len)
                                + body;
                    case 14 ->
                        head(t, req, ct, "Transfer-Encoding: chunked") + hex + "\r\n" + body + "\r\n0\r\n\r\n"; // valid
                    default -> head(t, req, ct, "Content-Length: " + len) + body; // valid
                };
        // only a body the server must still wait for is followed by a half-close (a client giving up);
        // everything else is complete, so the server owes an answer without one
        boolean incomplete = variant == 3 && hugeSize || variant == 7 || variant == 8 || variant == 9;
        RawExpect expect = variant >= 14 ? RawExpect.anyAnswer() : RawExpect.answerOrClose();
        String kind = "raw.framing." + variant + (variant == 3 ? " chunk size " + size.strip() : "");
        return raw(id, kind, Text.latin1(bytes), incomplete, expect);
    }

    private static FuzzCase.Raw pipeline(CaseId id, Target t, Dice d, String text, String body) {
        int n = d.between(2, 4);
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            parts.add(
                    switch (d.below(4)) {
                        case 0 -> head(t, "GET /health HTTP/1.1");
                        case 1 -> head(t, "HEAD " + text + " HTTP/1.1");
                        case 2 -> head(t, "GET " + text + "?offset=-1 HTTP/1.1");
                        default -> head(t, "POST /v1/noop HTTP/1.1", "Content-Length: 5") + "hello";
                    });
        }
        List<String> methods =
                parts.stream().map(p -> p.substring(0, p.indexOf(' '))).toList();
        boolean broken = d.chance(0.3);
        if (broken) {
            parts.add(1, "GARBAGE\r\n\r\n");
        }
        // after a request it cannot parse, a server may close: only the first answer is owed then
        RawExpect expect = broken ? RawExpect.anyAnswer() : new RawExpect(n, List.of(), false);
        String kind = "raw.pipeline" + (broken ? ".broken" : "");
        return new FuzzCase.Raw(id, kind, Text.latin1(String.join("", parts)), false, methods, expect);
    }

    private static FuzzCase.Raw h2(CaseId id, Target t, Dice d) {
        if (d.chance(0.5)) {
            byte[] preface = Text.latin1("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
            byte[] settings = {0, 0, 0, 4, 0, 0, 0, 0, 0};
            return raw(
                    id, "raw.h2.preface", WsFrames.concat(preface, settings), true, new RawExpect(0, List.of(), true));
        }
        String bytes = head(
                t,
                "GET /health HTTP/1.1",
                "Connection: Upgrade, HTTP2-Settings",
                "Upgrade: h2c",
                "HTTP2-Settings: " + d.pick("AAMAAABkAARAAAAAAAIAAAAA", "", "!!!", "A".repeat(5_000)));
        return raw(id, "raw.h2.upgrade", Text.latin1(bytes), false, RawExpect.anyAnswer());
    }

    private static FuzzCase.Raw garbage(CaseId id, Dice d) {
        byte[] bytes =
                switch (d.below(4)) {
                    case 0 -> d.bytes(d.between(1, 2_000));
                    case 1 ->
                        new byte[] {0x16, 0x03, 0x01, 0x00, (byte) 0xa5, 0x01, 0x00, 0x00, (byte) 0xa1, 0x03, 0x03};
                    case 2 -> Text.latin1("\r\n\r\n\r\n");
                    default -> Text.latin1("\u0000".repeat(d.between(1, 100)));
                };
        return raw(id, "raw.garbage", bytes, true, RawExpect.answerOrClose());
    }

    private static FuzzCase.Raw forms(CaseId id, Target t, Dice d) {
        String line = d.pick(
                "GET http://" + t.hostHeader() + "/health HTTP/1.1",
                "GET https://evil.example/health HTTP/1.1",
                "OPTIONS * HTTP/1.1",
                "CONNECT " + t.hostHeader() + " HTTP/1.1",
                "GET * HTTP/1.1",
                "TRACE /health HTTP/1.1",
                "GET /health HTTP/1.0",
                "GET /v1/responses HTTP/1.0");
        return raw(id, "raw.forms", Text.latin1(head(t, line)), false, RawExpect.answerOrClose());
    }
}
