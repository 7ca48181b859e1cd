package dev.tether.inference;

import java.util.Objects;

/**
 * How a turn ended.
 *
 * @param finish why generation stopped
 * @param usage  token counts as the backend reported them
 */
public record ModelResult(Finish finish, Usage usage) {
    public ModelResult {
        Objects.requireNonNull(finish, "finish");
        Objects.requireNonNull(usage, "usage");
    }

    /** Why generation stopped. */
    public enum Finish {
        /** A natural end or a stop sequence. */
        STOP,
        /** The model asked for tool calls. */
        TOOL_CALLS,
        /** The output-token limit was reached. */
        LENGTH,
        /** The backend filtered the output. */
        CONTENT_FILTER
    }

    /**
     * Token counts. {@code cachedTokens} is what the backend says it served from its cache (0
     * when it says nothing): it is reported to clients as is, never estimated.
     */
    public record Usage(long inputTokens, long cachedTokens, long outputTokens) {
        public static final Usage UNKNOWN = new Usage(0, 0, 0);

        public Usage {
            if (inputTokens < 0 || cachedTokens < 0 || outputTokens < 0) {
                throw new IllegalArgumentException("token counts cannot be negative");
            }
        }
    }
}
