package dev.tether.responses;

import dev.tether.inference.ChatMessage;
import dev.tether.inference.ModelRequest;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code truncation: "auto"}: shortens a context that does not fit by whole turns, oldest first.
 * The instructions (leading system messages) stay; the cut ends at a user message, so an
 * assistant's tool calls never lose their outputs or the other way round.
 *
 * <p>Stateless.
 */
final class Truncation {
    private Truncation() {}

    /**
     * {@code request} without its oldest turn (everything from the first non-system message up
     * to the next user message), or null when only the last turn is left to send.
     */
    static ModelRequest dropOldestTurn(ModelRequest request) {
        List<ChatMessage> m = request.messages();
        int first = 0;
        while (first < m.size() && m.get(first) instanceof ChatMessage.System) {
            first++;
        }
        int next = first + 1;
        while (next < m.size() && !(m.get(next) instanceof ChatMessage.User)) {
            next++;
        }
        if (next >= m.size()) {
            return null;
        }
        List<ChatMessage> kept = new ArrayList<>(m.subList(0, first));
        kept.addAll(m.subList(next, m.size()));
        return request.withMessages(kept);
    }
}
