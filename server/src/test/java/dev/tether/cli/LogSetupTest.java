package dev.tether.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

/** {@code --log-format json} and the rate limit on repeated events (finding 18: 100 requests, 2,700 lines). */
class LogSetupTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static LogRecord record(Level level, String message, Throwable thrown, long millis) {
        LogRecord r = new LogRecord(level, message);
        r.setLoggerName("dev.tether.http.ErrorTable");
        r.setThrown(thrown);
        r.setInstant(java.time.Instant.ofEpochMilli(millis));
        return r;
    }

    @Test
    void jsonLinesCarryTheRequestIdOfTheEventTheyDescribe() throws Exception {
        String line = new LogSetup.JsonFormatter()
                .format(record(
                        Level.SEVERE,
                        "unexpected failure serving request req_0123456789abcdef",
                        new IllegalStateException("boom"),
                        0));
        assertTrue(line.endsWith(System.lineSeparator()) && !line.strip().contains("\n"), "one line: " + line);
        JsonNode o = JSON.readTree(line);
        assertEquals("SEVERE", o.path("level").asText());
        assertEquals("dev.tether.http.ErrorTable", o.path("logger").asText());
        assertEquals("req_0123456789abcdef", o.path("request_id").asText(), "the id an error body quoted");
        assertTrue(o.path("thrown").asText().contains("IllegalStateException: boom"));
        assertEquals("1970-01-01T00:00:00Z", o.path("ts").asText());
    }

    @Test
    void aFloodOfTheSameFailureLogsAFewLinesAndACount() {
        LogSetup.RepeatFilter filter = new LogSetup.RepeatFilter(5, 60_000);
        RuntimeException same = new IllegalArgumentException("bad chunk");
        int passed = 0;
        for (int i = 0; i < 100; i++) {
            if (filter.isLoggable(record(Level.SEVERE, "failure " + i, same, 1000 + i))) {
                passed++;
            }
        }
        assertEquals(5, passed, "five of a hundred identical failures are logged within a minute");
        LogRecord later = record(Level.SEVERE, "failure again", same, 1000 + 61_000);
        assertTrue(filter.isLoggable(later), "a new window lets the kind through again");
        assertTrue(later.getMessage().contains("95 similar events were not logged"), later.getMessage());
        assertTrue(
                filter.isLoggable(record(Level.SEVERE, "other", new IllegalStateException("x"), 1200)),
                "another kind of failure is not held back by the first");
        for (int i = 0; i < 100; i++) {
            assertTrue(
                    filter.isLoggable(record(Level.INFO, "turn 8f1e2d3c: prompt=10", null, 2000 + i)),
                    "routine lines (one per turn of a busy session) are never held back");
        }
    }
}
