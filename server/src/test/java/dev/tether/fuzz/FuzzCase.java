package dev.tether.fuzz;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** One generated input and what a correct server may do with it. */
public sealed interface FuzzCase permits FuzzCase.Http, FuzzCase.Raw, FuzzCase.Socket {
    CaseId id();

    /** The template and the mutations applied, e.g. {@code stream.append+query+body}. */
    String kind();

    /** A compact, printable description of what is sent. */
    default String describe() {
        return describe(300);
    }

    /** The description with bodies and targets shown up to {@code max} characters (a replay shows all). */
    String describe(int max);

    /** Bytes on the wire, about: the report shows the smallest case of each failure signature. */
    int size();

    /** A header as sent; names and values may be anything that fits on one line. */
    record Header(String name, String value) {
        @Override
        public String toString() {
            return name + ": " + value;
        }
    }

    /**
     * A well-framed HTTP/1.1 request: the fuzzer computes {@code Content-Length} itself, so
     * whatever the server does can only be a reaction to the content.
     *
     * @param target   the request target exactly as sent (may hold bad escapes, raw bytes as chars 0x80-0xff)
     * @param withAuth add the campaign's bearer token unless the headers carry an Authorization already
     */
    record Http(
            CaseId id, String kind, String method, String target, List<Header> headers, byte[] body, boolean withAuth)
            implements FuzzCase {
        public Http {
            headers = List.copyOf(headers);
        }

        String header(String name) {
            for (Header h : headers) {
                if (h.name().equalsIgnoreCase(name)) {
                    return h.value();
                }
            }
            return null;
        }

        @Override
        public int size() {
            int n = method.length() + target.length() + body.length;
            for (Header h : headers) {
                n += h.name().length() + h.value().length() + 4;
            }
            return n;
        }

        @Override
        public String describe(int max) {
            StringBuilder sb = new StringBuilder();
            sb.append(method).append(' ').append(Text.excerpt(target, max));
            for (Header h : headers) {
                sb.append("\n    ")
                        .append(Text.excerpt(h.name(), 60))
                        .append(": ")
                        .append(Text.excerpt(h.value(), 200));
            }
            if (!withAuth) {
                sb.append("\n    (no Authorization)");
            }
            if (body.length > 0) {
                sb.append("\n    body (").append(body.length).append(" B): ").append(Text.excerpt(body, max));
            }
            return sb.toString();
        }
    }

    /**
     * Bytes written to a fresh connection as they are.
     *
     * @param halfClose shut the socket's output after writing, as a client that stops sending would
     * @param methods   the method of each request in the bytes, in order (HEAD answers have no body)
     * @param expect    what a correct server does
     */
    record Raw(CaseId id, String kind, byte[] bytes, boolean halfClose, List<String> methods, RawExpect expect)
            implements FuzzCase {
        public Raw {
            methods = List.copyOf(methods);
        }

        @Override
        public int size() {
            return bytes.length;
        }

        @Override
        public String describe(int max) {
            return "raw " + bytes.length + " B" + (halfClose ? " then half-close" : "") + ": "
                    + Text.excerpt(bytes, Math.max(400, max)) + "\n    expect: " + expect;
        }
    }

    /**
     * What a raw case must get back.
     *
     * @param answers      how many responses must arrive (pipelining), at least 1
     * @param statuses     the statuses the first answer may have, or empty for "any below 500"
     * @param silentCloseOk whether closing the connection without any answer is also correct
     */
    record RawExpect(int answers, List<Integer> statuses, boolean silentCloseOk) {
        public RawExpect {
            statuses = List.copyOf(statuses);
        }

        static RawExpect anyAnswer() {
            return new RawExpect(1, List.of(), false);
        }

        static RawExpect answerOrClose() {
            return new RawExpect(1, List.of(), true);
        }

        static RawExpect status(Integer... allowed) {
            return new RawExpect(1, List.of(allowed), false);
        }

        @Override
        public String toString() {
            return answers + " answer(s)" + (statuses.isEmpty() ? " below 500" : " with status in " + statuses)
                    + (silentCloseOk ? ", or a close" : "");
        }
    }

    /** A WebSocket session on {@code /v1/responses}: a real handshake, then steps in order. */
    record Socket(CaseId id, String kind, List<WsStep> steps) implements FuzzCase {
        public Socket {
            steps = List.copyOf(steps);
        }

        @Override
        public int size() {
            return steps.stream().mapToInt(s -> s.bytes().length).sum();
        }

        @Override
        public String describe(int max) {
            StringBuilder sb = new StringBuilder("websocket /v1/responses");
            for (WsStep s : steps) {
                sb.append("\n    send ").append(s.what()).append(" -> expect ").append(s.expect());
                if (max > 300 && s.payload().length > 0) {
                    sb.append("\n      payload: ").append(Text.excerpt(s.payload(), max));
                }
            }
            return sb.toString();
        }
    }

    /**
     * Frames to send, a description of them, and what the server must do next.
     *
     * @param payload the message as the application sees it (unmasked), for a replay's full description
     */
    record WsStep(byte[] bytes, String what, WsExpect expect, byte[] payload) {
        WsStep(byte[] bytes, String what, WsExpect expect) {
            this(bytes, what, expect, new byte[0]);
        }
    }

    /** What the server must do after a WebSocket step. */
    sealed interface WsExpect {
        /**
         * Close the connection with a close frame.
         *
         * @param codes  the codes allowed, empty for any
         * @param reason whether the frame must carry a reason (it must for a protocol violation)
         */
        record Close(List<Integer> codes, boolean reason) implements WsExpect {
            public Close {
                codes = List.copyOf(codes);
            }

            @Override
            public String toString() {
                return "close " + (codes.isEmpty() ? "(any code)" : codes) + (reason ? " with a reason" : "");
            }
        }

        /**
         * Answer each of {@code count} requests with an error frame or a terminal response event.
         *
         * @param orClose close codes that are a correct answer too (with a reason): a binary frame
         *     may be refused with 1003, since the protocol only defines text frames
         */
        record Replies(int count, List<Integer> orClose) implements WsExpect {
            public Replies {
                orClose = List.copyOf(orClose);
            }

            @Override
            public String toString() {
                return count + " terminal frame(s) (error or response.completed/incomplete/failed/cancelled)"
                        + (orClose.isEmpty() ? "" : ", or close " + orClose + " with a reason");
            }
        }

        /** Answer a ping with a pong carrying the same payload. */
        record Pong(byte[] payload) implements WsExpect {
            @Override
            public String toString() {
                return "pong with the ping's " + payload.length + " B";
            }
        }

        /** Nothing in particular now (the next step checks the connection still works). */
        record Nothing() implements WsExpect {
            @Override
            public String toString() {
                return "nothing yet";
            }
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
