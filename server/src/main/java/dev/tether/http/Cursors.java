package dev.tether.http;

import java.time.InstantSource;
import java.util.concurrent.ThreadLocalRandom;

/**
 * CDN request-collapsing cursors (Durable Streams §10.1): the number of 20 s intervals since
 * 2024-10-09T00:00:00Z; when a client echoes a cursor that is not behind, it gets a strictly
 * larger one (with jitter) so collapsed requests cannot loop.
 */
final class Cursors {
    private static final long EPOCH_MILLIS = 1_728_432_000_000L;
    private static final long INTERVAL_MILLIS = 20_000;
    private static final int MAX_JITTER_INTERVALS = 180;

    private final InstantSource clock;
    /** The current interval and its text, kept so that a hundred live tails do not format it a hundred times. */
    private volatile Current last = new Current(Long.MIN_VALUE, "");

    /** An interval number and its decimal text. */
    record Current(long interval, String text) {}

    Cursors(InstantSource clock) {
        this.clock = clock;
    }

    /** The cursor of the current interval (no client cursor to answer). */
    Current current() {
        long interval = (clock.millis() - EPOCH_MILLIS) / INTERVAL_MILLIS;
        Current c = last;
        if (c.interval() != interval) {
            c = new Current(interval, Long.toString(interval));
            last = c;
        }
        return c;
    }

    String next(String clientCursor) {
        Current now = current();
        long current = now.interval();
        if (clientCursor != null) {
            try {
                long client = Long.parseLong(clientCursor.trim());
                if (client >= current) {
                    return Long.toString(
                            client + 1 + ThreadLocalRandom.current().nextInt(MAX_JITTER_INTERVALS));
                }
            } catch (NumberFormatException ignored) {
                // An unparseable cursor is treated as absent: it is only a cache hint.
            }
        }
        return now.text();
    }
}
