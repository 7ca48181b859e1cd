package dev.tether.fuzz;

import java.util.Locale;

/** The surfaces the fuzzer covers; each case belongs to one, and counts are kept per area. */
public enum Area {
    /** Durable Streams: {@code /v1/stream/<path>}. */
    STREAMS(45),
    /** {@code /v1/responses} and its sub-resources. */
    RESPONSES(22),
    /** {@code /v1/conversations} and its items. */
    CONVERSATIONS(10),
    /** Hand-made bytes on a socket: request lines, framing, chunk sizes, pipelining, h2c. */
    RAW(11),
    /** The Responses WebSocket: handshakes, raw frames, fuzzed {@code response.create} frames. */
    WEBSOCKET(12);

    /** Share of a campaign's cases, in percent. */
    final int weight;

    Area(int weight) {
        this.weight = weight;
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    static Area parse(String label) {
        return valueOf(label.trim().toUpperCase(Locale.ROOT));
    }
}
