package dev.tether.session;

import dev.tether.metrics.Metrics;
import dev.tether.responses.ResponseService;
import dev.tether.stream.StreamDocs;
import java.time.InstantSource;
import java.util.concurrent.ScheduledExecutorService;

/**
 * What every session of a node shares: the log's engine, the clock, one timer thread (rollup
 * flushes, approval timeouts, lease checks) and the built-in agent's model access.
 *
 * @param responses the Responses API the built-in agent answers through
 */
record SessionContext(
        StreamDocs docs,
        InstantSource clock,
        ScheduledExecutorService timers,
        ResponseService responses,
        Metrics metrics) {
    String now() {
        return java.time.Instant.ofEpochMilli(clock.millis()).toString();
    }
}
