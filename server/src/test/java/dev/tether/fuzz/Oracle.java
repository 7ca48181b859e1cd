package dev.tether.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.fuzz.Failure.Category;
import dev.tether.fuzz.FuzzCase.RawExpect;
import dev.tether.fuzz.RawHttp.Answer;
import dev.tether.fuzz.RawHttp.Exchange;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Decides whether an answer is acceptable: below 500 (with the documented exceptions), in time,
 * no stack trace or exception class name in any body, error bodies JSON with a message,
 * Responses event streams ending with a terminal event. Stateless.
 */
final class Oracle {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Exception class names, stack frames and fully qualified JDK or library names. */
    private static final Pattern TRACE =
            Pattern.compile("\\bat (?:dev\\.tether|java\\.|javax\\.|jdk\\.|sun\\.|io\\.vertx|"
                    + "io\\.netty|com\\.fasterxml|org\\.sqlite)[\\w$.]*\\(|\\b(?:java|javax|jdk|sun)\\.(?:lang|util|io|nio|net)\\."
                    + "|\\b(?:dev\\.tether|io\\.netty|io\\.vertx|com\\.fasterxml|org\\.sqlite)\\.[a-z]"
                    + "|\\b\\w*Exception\\b|\\b[A-Z][a-z]+(?:[A-Z][a-z]+)+Error\\b");
    /** Parser internals: Jackson's source locations, feature and constraint names. */
    private static final Pattern INTERNALS = Pattern.compile(
            "\\[Source: |\\bStream(?:Read|Write)(?:Feature|Constraints)\\b"
                    + "|\\bJson(?:Read|Write)Feature\\b|\\bJsonParser\\b|\\bDeserializationFeature\\b|line: \\d+, column: \\d+\\]");

    static final Set<String> TERMINAL =
            Set.of("response.completed", "response.incomplete", "response.failed", "response.cancelled", "error");

    private final Target target;

    Oracle(Target target) {
        this.target = target;
    }

    /**
     * @param path   the request path (for Responses-specific rules), or null for raw bytes
     * @param expect what the case allows
     */
    List<Failure> judge(FuzzCase c, String path, Exchange x, RawExpect expect) {
        List<Failure> out = new ArrayList<>();
        String area = c.id().area().label();
        String template = template(c.kind());
        for (int i = 0; i < x.answers().size(); i++) {
            Answer a = x.answers().get(i);
            String method = i < methods(c).size() ? methods(c).get(i) : "GET";
            if (i == 0 && !expect.statuses().isEmpty()) {
                if (!expect.statuses().contains(a.status())) {
                    out.add(fail(Category.WRONG_STATUS, area, template + " -> " + a.status(), a.toString()));
                }
            } else if (a.status() >= 500 && !allowed5xx(a, path)) {
                out.add(fail(
                        Category.STATUS_5XX,
                        area,
                        a.status() + " " + errorCode(a) + " " + family(path) + marker(TRACE, Text.utf8(a.body())),
                        a.toString()));
            }
            body(out, area, "body", a.status(), Text.utf8(a.body()), a.toString());
            if (a.status() >= 400 && !method.equals("HEAD")) {
                String problem = errorBodyProblem(a);
                if (problem != null) {
                    out.add(fail(Category.ERROR_BODY, area, a.status() + " " + problem, a.toString()));
                }
            }
            if (path != null
                    && path.startsWith("/v1/responses")
                    && a.contentType().startsWith("text/event-stream")
                    && !a.cut()) {
                String last = lastEvent(Text.utf8(a.body()));
                if (!TERMINAL.contains(last)) {
                    out.add(fail(Category.SSE_UNTERMINATED, area, "last event " + last, a.toString()));
                }
            }
        }
        if (x.answers().size() < Math.max(1, expect.answers())) {
            boolean anyBytes = x.bytesReceived() > 0;
            switch (x.ending()) {
                case TIMED_OUT -> {
                    if (!(expect.answers() == 0 && anyBytes)) {
                        out.add(fail(Category.HANG, area, template, x.toString()));
                    }
                }
                case CLOSED -> {
                    if (!(expect.silentCloseOk() && x.answers().isEmpty()) && expect.answers() != 0) {
                        out.add(fail(Category.NO_RESPONSE, area, template, x.toString()));
                    }
                }
                case MALFORMED -> {
                    if (expect.answers() != 0) {
                        out.add(fail(Category.MALFORMED, area, template, x.toString()));
                    }
                }
                case COMPLETE -> {}
            }
        }
        return out;
    }

    /** Trace and internals checks on any text the server produced (bodies, frames, close reasons). */
    static void body(List<Failure> out, String area, String where, int status, String text, String detail) {
        String trace = marker(TRACE, text);
        if (!trace.isEmpty()) {
            out.add(fail(Category.STACK_TRACE, area, where + " " + status + trace, detail));
        }
        String internals = marker(INTERNALS, text);
        if (!internals.isEmpty()) {
            out.add(fail(Category.INTERNALS, area, where + " " + status + internals, detail));
        }
    }

    private boolean allowed5xx(Answer a, String path) {
        if (a.status() == 503 && a.header("Retry-After") != null) {
            return true; // genuine overload
        }
        boolean modelApi = path != null && (path.startsWith("/v1/responses") || path.startsWith("/v1/conversations"));
        if (a.status() == 503 && target.noBackend() && modelApi && errorCode(a).equals("no_backend")) {
            return true;
        }
        return (a.status() == 502 || a.status() == 504) && target.upstream() && modelApi;
    }

    private static List<String> methods(FuzzCase c) {
        return switch (c) {
            case FuzzCase.Http h -> List.of(h.method());
            case FuzzCase.Raw r -> r.methods();
            case FuzzCase.Socket s -> List.of("GET");
        };
    }

    static String errorBodyProblem(Answer a) {
        if (a.body().length == 0) {
            return "empty body";
        }
        JsonNode body;
        try {
            body = JSON.readTree(a.body());
        } catch (java.io.IOException e) {
            return "body not JSON";
        }
        if (!body.path("error").path("message").isTextual()
                || body.path("error").path("message").asText().isBlank()) {
            return "no error.message";
        }
        return a.contentType().startsWith("application/json") ? null : "Content-Type '" + a.contentType() + "'";
    }

    static String errorCode(Answer a) {
        try {
            return JSON.readTree(a.body()).path("error").path("code").asText("-");
        } catch (java.io.IOException e) {
            return "-";
        }
    }

    /** The type of the last event of an SSE body ({@code event:} line, else the data's {@code type}). */
    static String lastEvent(String sse) {
        String last = "(none)";
        for (String event : sse.split("\n\n")) {
            for (String line : event.split("\n")) {
                if (line.startsWith("event:")) {
                    last = line.substring(6).trim();
                }
            }
        }
        return last;
    }

    private static String family(String path) {
        if (path == null) {
            return "raw";
        }
        for (String p : List.of("/v1/stream/", "/v1/responses", "/v1/conversations", "/health", "/v1/noop")) {
            if (path.startsWith(p)) {
                return p;
            }
        }
        return "other";
    }

    private static final Pattern EXCEPTION_NAME = Pattern.compile("\\b[A-Z]\\w*(?:Exception|Error)\\b");

    /** The first match, as " (match)", or "": an exception class name if there is one (it tells bugs apart). */
    static String marker(Pattern p, String text) {
        Matcher m = p.matcher(text);
        if (!m.find()) {
            return "";
        }
        Matcher name = EXCEPTION_NAME.matcher(text);
        return " (" + (p == TRACE && name.find() ? name.group() : m.group()) + ")";
    }

    static String trace(String text) {
        return marker(TRACE, text);
    }

    static String template(String kind) {
        int plus = kind.indexOf('+');
        return plus < 0 ? kind : kind.substring(0, plus);
    }

    static Failure fail(Category category, String area, String key, String detail) {
        return new Failure(category, category.label() + " | " + area + " | " + key, detail);
    }
}
