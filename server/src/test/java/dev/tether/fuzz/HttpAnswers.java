package dev.tether.fuzz;

import dev.tether.fuzz.FuzzCase.Header;
import dev.tether.fuzz.RawHttp.Answer;
import dev.tether.fuzz.RawHttp.SsePolicy;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Parses HTTP/1.x responses off a {@link WireInput}: status line, headers, and bodies framed by
 * length, chunks or the end of the connection; an event stream may be cut after its first event.
 * Stateless.
 */
final class HttpAnswers {
    private HttpAnswers() {}

    /** Reads one response, skipping 100 Continue; null if the connection ended before a status line. */
    static Answer readAnswer(WireInput in, String method, SsePolicy sse) throws IOException {
        while (true) {
            String statusLine = in.line(16 * 1024);
            if (statusLine == null) {
                return null;
            }
            String[] parts = statusLine.split(" ", 3);
            // any "NAME/version NNN" is parsed, so a reply that echoes a bogus version is still judged by its status
            if (parts.length < 2 || !parts[0].matches("[A-Za-z]+/\\S*") || !parts[1].matches("[0-9]{3}")) {
                throw new WireInput.Malformed("status line '" + Text.excerpt(statusLine, 80) + "'");
            }
            int status = Integer.parseInt(parts[1]);
            List<Header> headers = readHeaders(in);
            if (status == 100) {
                continue;
            }
            Answer head = new Answer(parts[0], status, headers, new byte[0], false);
            in.pendingHead = head;
            if (status == 101 || status == 204 || status == 304 || status < 200 || method.equals("HEAD")) {
                in.pendingHead = null;
                return head;
            }
            boolean eventStream = head.contentType().startsWith("text/event-stream");
            boolean firstEvent = eventStream && sse == SsePolicy.FIRST_EVENT;
            String te = head.header("Transfer-Encoding");
            String cl = head.header("Content-Length");
            Body body = new Body(firstEvent);
            if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
                chunked(in, body);
            } else if (cl != null) {
                long n;
                try {
                    n = Long.parseLong(cl.trim());
                } catch (NumberFormatException e) {
                    throw new WireInput.Malformed("Content-Length '" + cl + "'");
                }
                if (n > RawHttp.MAX_BODY) {
                    throw new WireInput.Malformed("Content-Length " + n + " beyond what the fuzzer reads");
                }
                body.add(in.bytes((int) n));
            } else {
                int b;
                while (!body.cut && (b = in.read()) >= 0) {
                    body.add(new byte[] {(byte) b});
                }
            }
            in.pendingHead = null;
            return new Answer(parts[0], status, headers, body.out.toByteArray(), body.cut);
        }
    }

    private static List<Header> readHeaders(WireInput in) throws IOException {
        List<Header> headers = new ArrayList<>();
        while (true) {
            String line = in.line(64 * 1024);
            if (line == null) {
                throw new IOException("connection closed inside the response head");
            }
            if (line.isEmpty()) {
                return headers;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new WireInput.Malformed("header line '" + Text.excerpt(line, 80) + "'");
            }
            headers.add(new Header(
                    line.substring(0, colon).trim(), line.substring(colon + 1).trim()));
        }
    }

    private static void chunked(WireInput in, Body body) throws IOException {
        while (!body.cut) {
            String sizeLine = in.line(1024);
            if (sizeLine == null) {
                throw new IOException("connection closed inside a chunked body");
            }
            int semi = sizeLine.indexOf(';');
            String hex = (semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim();
            int size;
            try {
                size = Integer.parseInt(hex, 16);
            } catch (NumberFormatException e) {
                throw new WireInput.Malformed("chunk size '" + Text.excerpt(sizeLine, 40) + "'");
            }
            if (size == 0) {
                while (true) { // trailers
                    String t = in.line(64 * 1024);
                    if (t == null || t.isEmpty()) {
                        return;
                    }
                }
            }
            if (body.out.size() + (long) size > RawHttp.MAX_BODY) {
                throw new WireInput.Malformed("chunked body beyond what the fuzzer reads");
            }
            body.add(in.bytes(size));
            in.line(16);
        }
    }

    /** Collects a body; in first-event mode it stops at the first blank line of an event stream. */
    private static final class Body {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final boolean firstEvent;
        boolean cut;

        Body(boolean firstEvent) {
            this.firstEvent = firstEvent;
        }

        void add(byte[] bytes) {
            out.writeBytes(bytes);
            if (firstEvent && out.toString(StandardCharsets.UTF_8).contains("\n\n")) {
                cut = true;
            }
        }
    }
}
