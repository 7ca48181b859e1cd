package dev.tether.fuzz;

/**
 * One thing the oracle found wrong with one case.
 *
 * @param category  what kind of wrong
 * @param signature what makes two failures "the same bug" (category, area, and the distinctive part)
 * @param detail    what the server did, compactly
 */
record Failure(Category category, String signature, String detail) {

    /** The oracle's verdicts, each with what a correct server does instead. */
    enum Category {
        STATUS_5XX(
                "a 5xx answer (allowed: 503 with Retry-After; 502/504 only with an upstream; 503 no_backend without a backend)"),
        HANG("no complete answer within the deadline"),
        NO_RESPONSE("the connection closed without an answer to a well-framed request"),
        MALFORMED("bytes back that are not an HTTP/1.x response"),
        STACK_TRACE("a Java exception class name or stack frame in a body or frame"),
        INTERNALS("parser internals in a message (Jackson source locations, feature or constraint names)"),
        ERROR_BODY("an error answer whose body is not JSON with error.message"),
        WRONG_STATUS("a status outside those the case allows (e.g. 501 instead of 505)"),
        SSE_UNTERMINATED("a Responses event stream that ended without a terminal event"),
        WS_CLOSE_CODE("a WebSocket violation closed with the wrong code (want 1002 protocol, 1007 UTF-8, 1009 size)"),
        WS_CLOSE_REASON("a WebSocket violation closed without a reason"),
        WS_NO_CLOSE("the WebSocket connection ended without a close frame"),
        WS_DROPPED("a WebSocket message got no answer (no error frame, no terminal event) within the deadline"),
        WS_UNEXPECTED("the server closed, or sent something else, when an answer was due"),
        WS_BAD_FRAME("a server text frame that is not a JSON object"),
        HEALTH("/health was slow or not 200 after a batch"),
        DOWN("the server stopped accepting connections");

        final String meaning;

        Category(String meaning) {
            this.meaning = meaning;
        }

        String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}
