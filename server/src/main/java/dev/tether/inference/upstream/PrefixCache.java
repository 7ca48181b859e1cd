package dev.tether.inference.upstream;

import dev.tether.inference.ChatMessage;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Each session's last context as canonical JSON, message by message. A chain's next turn starts
 * with the same messages (the serialization is canonical, so the context is a pure append), and
 * only the messages that are new or differ are serialized again. Kept per session key, so no
 * session's bytes serve another; the least recently used sessions go first once the total
 * passes the budget.
 *
 * <p>Thread-safe.
 */
final class PrefixCache {
    /** Estimated heap per cached message besides its JSON: its strings and the list slots. */
    private static final int OVERHEAD = 64;

    private final long budgetBytes;
    private final LinkedHashMap<String, Entry> bySession = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;

    PrefixCache(long budgetBytes) {
        this.budgetBytes = budgetBytes;
    }

    /** The JSON of each of {@code messages}, reusing the session's last turn where a message is equal. */
    List<byte[]> render(String sessionKey, List<ChatMessage> messages, Function<ChatMessage, byte[]> serialize) {
        Entry last;
        synchronized (this) {
            last = bySession.get(sessionKey);
        }
        List<byte[]> json = new ArrayList<>(messages.size());
        long cost = 0;
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            boolean same = last != null
                    && i < last.messages.size()
                    && last.messages.get(i).equals(m);
            byte[] j = same ? last.json.get(i) : serialize.apply(m);
            json.add(j);
            cost += 2L * j.length + OVERHEAD; // the JSON, and the message's own strings
        }
        remember(sessionKey, new Entry(List.copyOf(messages), json, cost));
        return json;
    }

    /** Drops what is kept for {@code sessionKey}. */
    synchronized void forget(String sessionKey) {
        Entry gone = bySession.remove(sessionKey);
        if (gone != null) {
            bytes -= gone.cost;
        }
    }

    /** Bytes held now, by the estimate the budget uses. */
    synchronized long bytes() {
        return bytes;
    }

    private synchronized void remember(String sessionKey, Entry entry) {
        if (entry.cost > budgetBytes) {
            forget(sessionKey);
            return;
        }
        Entry previous = bySession.put(sessionKey, entry);
        bytes += entry.cost - (previous == null ? 0 : previous.cost);
        Iterator<Map.Entry<String, Entry>> oldest = bySession.entrySet().iterator();
        while (bytes > budgetBytes && oldest.hasNext()) {
            bytes -= oldest.next().getValue().cost;
            oldest.remove();
        }
    }

    private record Entry(List<ChatMessage> messages, List<byte[]> json, long cost) {}
}
