package dev.tether.responses;

/**
 * Limits of the Responses layer.
 *
 * @param maxInFlight     responses generating at once; more get 429
 * @param cachedResponses stored responses (with their chains) kept in memory for fast continuation
 */
public record ResponseSettings(int maxInFlight, int cachedResponses) {
    public ResponseSettings {
        if (maxInFlight < 1 || cachedResponses < 1) {
            throw new IllegalArgumentException("limits must be positive");
        }
    }

    public static ResponseSettings defaults() {
        return new ResponseSettings(256, 4096);
    }
}
