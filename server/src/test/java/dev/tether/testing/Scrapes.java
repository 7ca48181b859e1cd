package dev.tether.testing;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reading {@code GET /metrics} in tests: one sample's value, or waiting for one to be reached. */
public final class Scrapes {
    private Scrapes() {}

    /** The value of the first sample of {@code series} (name with labels, as exposed), or -1. */
    public static double sample(String metrics, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " ([0-9.eE+-]+)$")
                .matcher(metrics);
        return m.find() ? Double.parseDouble(m.group(1)) : -1;
    }

    /**
     * Waits up to 45 s until {@code series} reaches {@code atLeast}: lets a test wait for the
     * server's own decision (a reader cut off) instead of sleeping a guessed time.
     */
    public static void await(TestServer server, String series, double atLeast) throws Exception {
        for (int i = 0; i < 450; i++) {
            if (sample(server.get("/metrics").body(), series) >= atLeast) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError(series + " never reached " + atLeast);
    }

    /** Waits until the server reports a slow reader of {@code transport} cut off. */
    public static void awaitSlowReaderCut(TestServer server, String transport) throws Exception {
        await(server, "tether_slow_reader_disconnects_total{transport=\"" + transport + "\"}", 1);
    }
}
