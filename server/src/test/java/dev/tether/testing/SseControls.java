package dev.tether.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.Iterator;
import java.util.stream.Stream;

/** The {@code control} events of a Durable Streams SSE body, read line by line. */
public final class SseControls {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What to do with each control event; false stops the reading. */
    @FunctionalInterface
    public interface Each {
        boolean accept(JsonNode control) throws IOException;
    }

    private SseControls() {}

    /** Hands each control event's data to {@code each} until it returns false or the body ends; closes the lines. */
    public static void read(Stream<String> lines, Each each) throws IOException {
        try (lines) {
            boolean control = false;
            for (Iterator<String> it = lines.iterator(); it.hasNext(); ) {
                String line = it.next();
                if (line.equals("event: control")) {
                    control = true;
                } else if (control && line.startsWith("data:")) {
                    control = false;
                    if (!each.accept(JSON.readTree(line.substring(5)))) {
                        return;
                    }
                }
            }
        }
    }
}
