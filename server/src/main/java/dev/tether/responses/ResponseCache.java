package dev.tether.responses;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Recently used stored responses with their resolved chains, so a continuation costs no store
 * read. Least recently used entries go first. Never holds {@code store:false} responses.
 *
 * <p>Thread-safe (synchronized).
 */
final class ResponseCache {
    private final Map<String, ResponseRecord> entries;

    ResponseCache(int capacity) {
        this.entries = new LinkedHashMap<>(64, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, ResponseRecord> eldest) {
                return size() > capacity;
            }
        };
    }

    synchronized ResponseRecord get(String id) {
        return entries.get(id);
    }

    synchronized void put(ResponseRecord record) {
        entries.put(record.id(), record);
    }

    synchronized void remove(String id) {
        entries.remove(id);
    }
}
