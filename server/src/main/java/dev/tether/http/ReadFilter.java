package dev.tether.http;

import dev.tether.session.Entry;
import dev.tether.store.StoredMessage;
import dev.tether.stream.ReadResult;
import java.util.List;

/**
 * What a reader may not see of a stream it may read: whispers ({@code visibility: operators}) in a
 * session's log, for readers without the {@code floor} capability (SESSIONS.md rule 6). Offsets
 * are unchanged: a filtered read ends where the unfiltered one would, so resuming is exact on
 * every transport.
 *
 * <p>Stateless.
 */
final class ReadFilter {
    /** Removes session whispers. */
    static final ReadFilter NO_WHISPERS = new ReadFilter();

    private ReadFilter() {}

    ReadResult.Data apply(ReadResult.Data d) {
        List<StoredMessage> kept =
                d.messages().stream().filter(m -> !Entry.whisper(m.data())).toList();
        if (kept.size() == d.messages().size()) {
            return d;
        }
        return new ReadResult.Data(d.stream(), d.from(), d.next(), d.nextOffset(), kept, d.upToDate());
    }

    /** Tells filtered answers apart in ETags, so no cache serves one reader's view to another. */
    String etagSuffix() {
        return ":u";
    }
}
