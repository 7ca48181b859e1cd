package dev.tether.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.config.ServerConfig.LogFormat;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.ConsoleHandler;
import java.util.logging.Filter;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where the server's log goes (stderr) and in what shape: one line per event ({@code text}) or one
 * JSON object per line ({@code json}: {@code ts}, {@code level}, {@code logger}, {@code message},
 * {@code request_id} when the event names a request, {@code thrown}). Repeats are rate-limited: a
 * flood of identical failures (a hundred malformed requests) logs a few lines and a count, not a
 * hundred stack traces.
 *
 * <p>Called once, at start-up, before the server logs anything.
 */
final class LogSetup {
    static final String TEXT_FORMAT = "%1$tFT%1$tT.%1$tLZ %4$-7s %3$s: %5$s%6$s%n";

    private LogSetup() {}

    static void install(LogFormat format) {
        System.setProperty("java.util.logging.SimpleFormatter.format", TEXT_FORMAT);
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        ConsoleHandler handler = new ConsoleHandler();
        handler.setFormatter(format == LogFormat.JSON ? new JsonFormatter() : new SimpleFormatter());
        handler.setFilter(new RepeatFilter(20, 60_000));
        root.addHandler(handler);
    }

    /** One JSON object per line. */
    static final class JsonFormatter extends Formatter {
        private static final ObjectMapper JSON = new ObjectMapper();
        private static final Pattern REQUEST_ID = Pattern.compile("\\breq_[0-9a-f]{16}\\b");

        @Override
        public String format(LogRecord r) {
            ObjectNode o = JSON.createObjectNode();
            o.put("ts", Instant.ofEpochMilli(r.getMillis()).toString());
            o.put("level", r.getLevel().getName());
            o.put("logger", r.getLoggerName());
            String message = formatMessage(r);
            o.put("message", message);
            Matcher id = REQUEST_ID.matcher(message);
            if (id.find()) {
                o.put("request_id", id.group());
            }
            if (r.getThrown() != null) {
                StringWriter trace = new StringWriter();
                r.getThrown().printStackTrace(new PrintWriter(trace));
                o.put("thrown", trace.toString());
            }
            return o + System.lineSeparator();
        }
    }

    /**
     * Lets at most {@code limit} warnings and errors of one kind through per window — a kind
     * being the logger, the level and the exception's type and first frame (or the message,
     * without one) — and notes on the next one that passes how many were held back. Routine
     * lines below WARNING without an exception always pass.
     *
     * <p>Thread-safe (synchronized; the handler calls it for every record).
     */
    static final class RepeatFilter implements Filter {
        private static final int MAX_KINDS = 1024;

        private final int limit;
        private final long windowMillis;
        private final Map<String, long[]> kinds = new LinkedHashMap<>(64, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, long[]> eldest) {
                return size() > MAX_KINDS;
            }
        };

        RepeatFilter(int limit, long windowMillis) {
            this.limit = limit;
            this.windowMillis = windowMillis;
        }

        @Override
        public synchronized boolean isLoggable(LogRecord r) {
            if (r.getThrown() == null && r.getLevel().intValue() < java.util.logging.Level.WARNING.intValue()) {
                return true; // routine lines (one per turn, say) are never held back
            }
            String kind = kind(r);
            // state: window start, passed in window, suppressed since the last one passed
            long[] state = kinds.computeIfAbsent(kind, k -> new long[3]);
            long now = r.getMillis();
            if (now - state[0] >= windowMillis) {
                state[0] = now;
                state[1] = 0;
            }
            if (state[1] >= limit) {
                state[2]++;
                return false;
            }
            state[1]++;
            if (state[2] > 0) {
                r.setMessage(r.getMessage() + " (" + state[2] + " similar events were not logged)");
                state[2] = 0;
            }
            return true;
        }

        private static String kind(LogRecord r) {
            StringBuilder k = new StringBuilder(r.getLoggerName()).append('|').append(r.getLevel());
            Throwable t = r.getThrown();
            if (t != null) {
                k.append('|').append(t.getClass().getName());
                if (t.getStackTrace().length > 0) {
                    k.append('|').append(t.getStackTrace()[0]);
                }
            } else {
                String m = String.valueOf(r.getMessage());
                k.append('|').append(m, 0, Math.min(m.length(), 60));
            }
            return k.toString();
        }
    }
}
