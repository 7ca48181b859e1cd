package dev.tether.store.log;

import java.util.ArrayList;
import java.util.List;

/**
 * Parks the filling index chunk of streams that have gone quiet ({@link StreamIndex#park}), so
 * that the heap holds the newest chunks of the streams written lately, not of every stream the log
 * keeps: a log of many short streams (a stored response is two) held about 12 bytes a message of
 * them until they filled 4,096 messages, which most never do.
 *
 * <p>Time is cut into periods of {@link #PERIOD_NANOS}. A stream written in one period and not in
 * the next is parked when that next one ends, so a stream is parked 10 to 20 s after its last
 * write; one written again later has its chunk brought back by that write. The work runs on the
 * writer's thread between group commits ({@link #tick}, at least every 200 ms), at most {@link
 * #PARKS_PER_TICK} chunks (about 2 ms) and {@link #CHECKS_PER_TICK} streams at a time, so that many
 * streams going quiet at once do not hold up the writes queued behind them; the writer ticks again
 * as soon as those are done. A stream written every 10 to 20 s is parked and brought back each time:
 * a write of its entries to the file, then a read and a copy back.
 *
 * <p>Writer thread only.
 */
final class QuietStreams {
    /** A period: 10 s. */
    static final long PERIOD_NANOS = 10_000_000_000L;
    /** Chunks parked per tick at most: each is one small positional write. */
    static final int PARKS_PER_TICK = 256;

    /** Streams looked at per tick at most, most of them written since and passed over. */
    static final int CHECKS_PER_TICK = 16 * PARKS_PER_TICK;

    private final long periodNanos;
    /** Streams first written in the period before the current one: parked unless written in this one. */
    private List<StreamIndex> candidates = new ArrayList<>();
    /** Streams first written in the current period. */
    private List<StreamIndex> lately = new ArrayList<>();

    private int checked;
    private int period;
    private long periodEnds;
    /** The current period has ended and its candidates are being parked. */
    private boolean parking;

    QuietStreams(long nowNanos) {
        this(nowNanos, PERIOD_NANOS);
    }

    /** Tests: periods of {@code periodNanos}. */
    QuietStreams(long nowNanos, long periodNanos) {
        this.periodNanos = periodNanos;
        this.periodEnds = nowNanos + periodNanos;
    }

    /** {@code index} took a message just now. */
    void written(StreamIndex index) {
        if (index.writtenIn != period) {
            index.writtenIn = period;
            lately.add(index);
        }
    }

    /**
     * Parks what has gone quiet, once a period has ended; a bounded step of it per call.
     *
     * @return whether there is more to park now (tick again soon)
     */
    boolean tick(long nowNanos) {
        if (!parking) {
            if (nowNanos - periodEnds < 0) {
                return false;
            }
            parking = true;
        }
        int parked = 0;
        int stop = Math.min(candidates.size(), checked + CHECKS_PER_TICK);
        while (checked < candidates.size()) {
            if (parked == PARKS_PER_TICK || checked == stop) {
                return true; // the rest at the next tick
            }
            StreamIndex index = candidates.get(checked++);
            if (index.writtenIn == period - 1 && index.park()) { // not written since
                parked++;
            }
        }
        candidates = lately;
        lately = new ArrayList<>();
        checked = 0;
        period++;
        periodEnds = nowNanos + periodNanos;
        parking = false;
        return false;
    }
}
