package dev.tether.stream;

import dev.tether.store.ReadExtent;
import dev.tether.store.RowSink;
import dev.tether.store.StoreException;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads a stream's logical byte space: a fork's inherited range from its source chain, then its
 * own messages, from the recent window when it covers the range and from the store otherwise.
 *
 * <p>Thread-safe and stateless apart from its collaborators.
 */
final class StreamReader {
    private final StreamRegistry registry;
    private final StreamStore store;

    StreamReader(StreamRegistry registry, StreamStore store) {
        this.registry = registry;
        this.store = store;
    }

    /** The lowest position a reader starting at "-1" gets. */
    long startPosition(StreamRecord r) {
        if (r.readsForkSource()) {
            StreamState source = registry.byId(r.forkSourceId());
            long sourceStart = source == null ? r.forkPosition() : startPosition(source.record);
            return Math.min(sourceStart, r.forkPosition());
        }
        return r.retainedFrom();
    }

    /**
     * The position {@code offset} names in {@code r}'s byte space, or -1 when it was not issued for
     * {@code r}: it must carry the incarnation of {@code r} or of a stream up its fork chain, and
     * in the latter case lie at or below the point where {@code r}'s bytes part from that
     * stream's. An unscoped offset (incarnation 0, from before incarnations) counts for streams
     * that existed then; its start position counts everywhere.
     */
    long positionOf(StreamRecord r, Offset offset) {
        if (offset.equals(Offset.ZERO)) {
            return 0;
        }
        long limit = Long.MAX_VALUE;
        StreamRecord m = r;
        while (true) {
            boolean issuer = m.id() == offset.incarnation()
                    || (offset.incarnation() == 0 && m.id() < registry.scopedOffsetsFromId());
            if (issuer) {
                return offset.position() <= limit ? offset.position() : -1;
            }
            StreamState source = m.isFork() ? registry.byId(m.forkSourceId()) : null;
            if (source == null) {
                return -1;
            }
            limit = Math.min(limit, m.forkPosition());
            m = source.record;
        }
    }

    /**
     * The offset for {@code position} in {@code r}: the incarnation of the stream whose own bytes
     * hold it (a source's below a fork point), so offsets sort in stream order along a fork chain.
     */
    Offset offsetOf(StreamRecord r, long position) {
        StreamRecord m = r;
        while (m.isFork() && position < m.forkPosition()) {
            StreamState source = registry.byId(m.forkSourceId());
            if (source == null) {
                break;
            }
            m = source.record;
        }
        return new Offset(m.id(), position);
    }

    /** Whether {@code position} has been trimmed away by retention somewhere in the chain. */
    boolean trimmed(StreamRecord r, long position) {
        return position < startPosition(r);
    }

    /** Serves {@code [from, to)} from memory if possible, else null (no blocking). */
    List<StoredMessage> readFromMemory(StreamRecord r, long from, long to, int maxBytes) {
        if (r.isFork() && from < r.forkPosition()) {
            return null;
        }
        StreamState s = registry.byId(r.id());
        if (s == null) {
            return null;
        }
        List<StoredMessage> rows = s.recent.read(from, to, maxBytes);
        return rows == null ? null : clip(r, rows, from, to);
    }

    /**
     * What a store read of {@code [from, to)} would cover, from the store's index, when the
     * range is this stream's own (not inherited from a fork source) and the store can tell; else null.
     */
    ReadExtent extent(StreamRecord r, long from, long to, int maxBytes) {
        if (r.isFork() && from < r.forkPosition()) {
            return null;
        }
        ReadExtent e = store.extent(r.id(), from, to, maxBytes);
        return e == null || e.end() <= to ? e : new ReadExtent(e.first(), to, e.rows());
    }

    /**
     * Whether {@link #scanOwn} with the same arguments would read memory only (see {@link
     * dev.tether.store.StreamStore#resident}); false for a range inherited from a fork source.
     */
    boolean resident(StreamRecord r, long from, long to, int maxBytes) {
        return (!r.isFork() || from >= r.forkPosition()) && store.resident(r.id(), from, to, maxBytes);
    }

    /**
     * A store scan of this stream's own {@code [from, to)} (see {@link #extent}), each row cut to
     * the range as {@link #readChainBlocking} would.
     */
    void scanOwn(StreamRecord r, long from, long to, int maxBytes, RowSink sink) throws StoreException {
        store.scan(r.id(), from, to, maxBytes, (position, bytes) -> {
            if (position < from) {
                bytes.position(bytes.position() + (int) (from - position));
                position = from;
            }
            if (position + bytes.remaining() > to) {
                bytes.limit(bytes.position() + (int) (to - position));
            }
            sink.row(position, bytes);
        });
    }

    /** Reads {@code [from, to)} across the fork chain, at least one message when any exists. */
    List<StoredMessage> readChainBlocking(StreamRecord r, long from, long to, int maxBytes) throws StoreException {
        List<StoredMessage> out = new ArrayList<>();
        long at = from;
        long budget = maxBytes;
        if (r.isFork() && at < r.forkPosition()) {
            StreamState source = registry.byId(r.forkSourceId());
            long end = Math.min(to, r.forkPosition());
            if (source != null) {
                List<StoredMessage> inherited = readChainBlocking(source.record, at, end, maxBytes);
                for (StoredMessage m : inherited) {
                    out.add(m);
                    budget -= m.length();
                    at = m.end();
                }
            }
            if (at < end || budget <= 0) {
                return clip(r, out, from, to);
            }
        }
        if (at < to && budget > 0) {
            List<StoredMessage> own = readFromMemory(r, at, to, (int) budget);
            if (own == null) {
                own = store.read(r.id(), at, to, (int) budget);
            }
            if (out.isEmpty()) {
                return clip(r, own, from, to);
            }
            out.addAll(own);
        }
        return clip(r, out, from, to);
    }

    /**
     * Cuts the first message to start at {@code from} and the last to end at {@code to}. JSON
     * messages are never cut: a JSON read must start at a message boundary, and the caller
     * checks that the first message starts at {@code from}.
     */
    private static List<StoredMessage> clip(StreamRecord r, List<StoredMessage> rows, long from, long to) {
        if (rows.isEmpty()) {
            return rows;
        }
        StoredMessage first = rows.get(0);
        StoredMessage last = rows.get(rows.size() - 1);
        boolean cutFirst = first.position() < from && !ContentTypes.isJson(r.contentType());
        if (!cutFirst && last.end() <= to) {
            return rows;
        }
        List<StoredMessage> out = new ArrayList<>(rows);
        if (cutFirst) {
            int skip = (int) (from - first.position());
            out.set(0, new StoredMessage(from, Arrays.copyOfRange(first.data(), skip, first.length())));
        }
        last = out.get(out.size() - 1);
        if (last.end() > to) {
            out.set(out.size() - 1, new StoredMessage(last.position(), Arrays.copyOf(last.data(), (int)
                    (to - last.position()))));
        }
        return out;
    }
}
