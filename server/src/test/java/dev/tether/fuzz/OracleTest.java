package dev.tether.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.fuzz.Failure.Category;
import dev.tether.fuzz.FuzzCase.Header;
import dev.tether.fuzz.FuzzCase.RawExpect;
import dev.tether.fuzz.RawHttp.Answer;
import dev.tether.fuzz.RawHttp.Ending;
import dev.tether.fuzz.RawHttp.Exchange;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The oracle flags what the issue forbids and nothing a correct server does. */
class OracleTest {
    private static final Oracle ORACLE = new Oracle(new Target("127.0.0.1", 1, null, 500, false, false));
    private static final FuzzCase.Http GET = new FuzzCase.Http(
            new CaseId(1, Area.STREAMS, 0), "stream.read", "GET", "/v1/stream/x", List.of(), new byte[0], true);
    private static final RawExpect ONE = new RawExpect(1, List.of(), false);

    private static Answer answer(int status, String contentType, String body, String... headers) {
        List<Header> h = new java.util.ArrayList<>();
        if (contentType != null) {
            h.add(new Header("Content-Type", contentType));
        }
        for (int i = 0; i < headers.length; i += 2) {
            h.add(new Header(headers[i], headers[i + 1]));
        }
        return new Answer("HTTP/1.1", status, h, body.getBytes(StandardCharsets.UTF_8), false);
    }

    private static List<Category> judge(String path, Answer a) {
        Exchange x = new Exchange(List.of(a), Ending.COMPLETE, null, 100, 1);
        return ORACLE.judge(GET, path, x, ONE).stream().map(Failure::category).toList();
    }

    @Test
    void aJsonClientErrorIsFine() {
        assertEquals(
                List.of(),
                judge(
                        "/v1/stream/x",
                        answer(
                                400,
                                "application/json",
                                "{\"error\":{\"code\":\"bad_request\",\"message\":\"offset 'x' is not an offset\"}}")));
    }

    @Test
    void a500WithAnExceptionInItsBodyIsTwoFailures() {
        assertEquals(
                List.of(Category.STATUS_5XX, Category.STACK_TRACE),
                judge(
                        "/v1/stream/x",
                        answer(
                                500,
                                "application/json",
                                "{\"error\":{\"code\":\"internal_error\",\"message\":\"internal error: "
                                        + "java.lang.IllegalArgumentException: invalid hex byte 'zz'\"}}")));
    }

    @Test
    void overloadWithRetryAfterIsTheOnlyAllowed5xxWithoutABackendRule() {
        String busy = "{\"error\":{\"code\":\"overloaded\",\"message\":\"the writer queue is full\"}}";
        assertEquals(List.of(), judge("/v1/stream/x", answer(503, "application/json", busy, "Retry-After", "1")));
        assertEquals(List.of(Category.STATUS_5XX), judge("/v1/stream/x", answer(503, "application/json", busy)));
        String noBackend = "{\"error\":{\"code\":\"no_backend\",\"message\":\"configure --model\"}}";
        assertEquals(List.of(Category.STATUS_5XX), judge("/v1/responses", answer(503, "application/json", noBackend)));
    }

    @Test
    void anEmptyOrNonJsonErrorBodyIsFlagged() {
        assertEquals(List.of(Category.ERROR_BODY), judge("/v1/stream/x", answer(431, null, "")));
        assertEquals(List.of(Category.ERROR_BODY), judge("/v1/stream/x", answer(400, "text/plain", "Bad Request")));
    }

    @Test
    void parserInternalsInAMessageAreFlagged() {
        assertEquals(
                List.of(Category.INTERNALS),
                judge(
                        "/v1/responses",
                        answer(
                                400,
                                "application/json",
                                "{\"error\":{\"message\":\"Unexpected end-of-input at [Source: REDACTED; line: 1, column: 5]\"}}")));
    }

    @Test
    void aResponsesEventStreamMustEndWithATerminalEvent() {
        String cut = "event: response.created\ndata: {}\n\nevent: response.output_text.delta\ndata: {}\n\n";
        assertEquals(List.of(Category.SSE_UNTERMINATED), judge("/v1/responses", answer(200, "text/event-stream", cut)));
        String whole = cut + "event: response.completed\ndata: {}\n\n";
        assertEquals(List.of(), judge("/v1/responses", answer(200, "text/event-stream", whole)));
    }

    @Test
    void noAnswerInTimeIsAHangAndASilentCloseIsNoResponse() {
        Exchange late = new Exchange(List.of(), Ending.TIMED_OUT, null, 0, 5000);
        assertEquals(
                List.of(Category.HANG),
                ORACLE.judge(GET, "/v1/stream/x", late, ONE).stream()
                        .map(Failure::category)
                        .toList());
        Exchange closed = new Exchange(List.of(), Ending.CLOSED, null, 0, 1);
        assertEquals(
                List.of(Category.NO_RESPONSE),
                ORACLE.judge(GET, "/v1/stream/x", closed, ONE).stream()
                        .map(Failure::category)
                        .toList());
        assertEquals(List.of(), ORACLE.judge(GET, null, closed, RawExpect.answerOrClose()));
    }

    @Test
    void aRawCaseMayRequireASpecificStatus() {
        Exchange x = new Exchange(List.of(answer(501, null, "")), Ending.COMPLETE, null, 40, 1);
        List<Category> got = ORACLE.judge(GET, null, x, RawExpect.status(400, 505)).stream()
                .map(Failure::category)
                .toList();
        assertEquals(List.of(Category.WRONG_STATUS, Category.ERROR_BODY), got);
    }
}
