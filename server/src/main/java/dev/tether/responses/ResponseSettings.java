package dev.tether.responses;

import java.time.Duration;

/**
 * Limits of the Responses layer.
 *
 * @param maxInFlight     responses generating at once; more get 429
 * @param cachedResponses stored responses (with their chains) kept in memory for fast continuation
 * @param cachedConversations conversations kept materialized in memory (least recently used go first)
 * @param ttl             stored responses and conversations expire after this long unused, or null
 */
public record ResponseSettings(int maxInFlight, int cachedResponses, int cachedConversations, Duration ttl) {
    public ResponseSettings {
        if (maxInFlight < 1 || cachedResponses < 1 || cachedConversations < 1) {
            throw new IllegalArgumentException("limits must be positive");
        }
    }

    public static ResponseSettings defaults() {
        return new ResponseSettings(256, 4096, 4096, null);
    }

    public ResponseSettings withTtl(Duration value) {
        return new ResponseSettings(maxInFlight, cachedResponses, cachedConversations, value);
    }

    /** The TTL in whole seconds for stream creation, or null. */
    Long ttlSeconds() {
        return ttl == null ? null : Math.max(1, ttl.toSeconds());
    }
}
