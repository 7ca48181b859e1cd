package dev.tether.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.Mutation;
import dev.tether.store.ProducerRecord;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import java.lang.reflect.RecordComponent;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongFunction;
import org.junit.jupiter.api.Test;

/** Every mutation, with every optional field set and unset, comes back from a batch as it went in. */
class LogFormatTest {
    private static List<Mutation> roundTrip(List<Mutation> in) {
        return roundTrip(in, id -> null);
    }

    /**
     * Encodes {@code in} over the records in {@code committed}, then decodes it as replay does,
     * each TailMoved over the record before it (the batch's own, else the committed one).
     */
    private static List<Mutation> roundTrip(List<Mutation> in, LongFunction<StreamRecord> committed) {
        LogFormat.Encoded e = LogFormat.encode(in, committed, null);
        ByteBuffer all = e.bytes();
        ByteBuffer header = all.duplicate().limit(LogFormat.HEADER);
        int length = LogFormat.payloadLength(header, all.remaining());
        ByteBuffer payload = all.duplicate()
                .position(LogFormat.HEADER)
                .limit(LogFormat.HEADER + length)
                .slice();
        assertEquals(true, LogFormat.intact(header, payload));
        Map<Long, StreamRecord> replayed = new HashMap<>();
        return LogFormat.decode(payload).stream()
                .map(d -> switch (d) {
                    case LogFormat.Decoded.TailMoved t -> {
                        Mutation.PutStream put =
                                t.over(replayed.getOrDefault(t.streamId(), committed.apply(t.streamId())));
                        replayed.put(t.streamId(), put.record());
                        yield (Mutation) put;
                    }
                    case LogFormat.Decoded.Other o -> {
                        if (o.mutation() instanceof Mutation.PutStream p) {
                            replayed.put(p.record().id(), p.record());
                        }
                        yield o.mutation();
                    }
                    case LogFormat.Decoded.Append a -> {
                        byte[] data = new byte[a.length()];
                        payload.duplicate().position(a.payloadOffset()).get(data);
                        yield (Mutation) new Mutation.AppendMessages(
                                a.streamId(), List.of(new StoredMessage(a.position(), data)));
                    }
                })
                .toList();
    }

    @Test
    void everyMutationRoundTrips() {
        StreamRecord full = new StreamRecord(
                42,
                "chats/ünïcode/1",
                "application/json; charset=utf-8",
                3600L,
                null,
                1_700_000_000_000L,
                1_700_000_001_000L,
                300,
                100,
                true,
                new StreamRecord.ProducerTuple("writer-1", 3, 9),
                "seq-0009",
                7L,
                128,
                StreamRecord.Lifecycle.SOFT_DELETED);
        StreamRecord bare = new StreamRecord(
                43, "b", "text/plain", null, 5L, 1, 2, 0, 0, false, null, null, null, 0, StreamRecord.Lifecycle.LIVE);
        List<Mutation> in = List.of(
                new Mutation.PutStream(full),
                new Mutation.PutStream(bare),
                new Mutation.AppendMessages(42, List.of(new StoredMessage(300, "{\"a\":1}".getBytes()))),
                new Mutation.PutProducer(new ProducerRecord(42, "writer-1", 3, 10)),
                new Mutation.TrimMessages(42, 200),
                new Mutation.DropStream(43));
        List<Mutation> out = roundTrip(in);
        assertEquals(in.get(0), out.get(0));
        assertEquals(in.get(1), out.get(1));
        Mutation.AppendMessages appended = (Mutation.AppendMessages) out.get(2);
        assertEquals(300, appended.messages().get(0).position());
        assertEquals("{\"a\":1}", new String(appended.messages().get(0).data()));
        assertEquals(in.subList(3, 6), out.subList(3, 6));
    }

    private static final StreamRecord BEFORE = new StreamRecord(
            7,
            "chats/7",
            "text/plain",
            60L,
            2_000_000_000_000L,
            1_700_000_000_000L,
            1_700_000_001_000L,
            300,
            100,
            false,
            new StreamRecord.ProducerTuple("writer-1", 3, 9),
            "seq-1",
            5L,
            12,
            StreamRecord.Lifecycle.LIVE);

    /** An append's record, as the store writes it: the record before, with a new tail and last access. */
    private static StreamRecord moved(StreamRecord r, long by) {
        return r.withTail(r.tail() + by).withLastAccess(r.lastAccessMillis() + by);
    }

    @Test
    void aRecordWhoseTailAloneMovedIsWrittenInTwentyFiveBytesAndReplayedWhole() {
        StreamRecord once = moved(BEFORE, 256);
        StreamRecord twice = moved(once, 256);
        List<Mutation> in = List.of(new Mutation.PutStream(once), new Mutation.PutStream(twice));

        assertEquals(in, roundTrip(in, id -> id == 7 ? BEFORE : null));
        int whole = LogFormat.encode(in, id -> null, null).bytes().remaining();
        int moved = LogFormat.encode(in, id -> id == 7 ? BEFORE : null, null)
                .bytes()
                .remaining();
        assertEquals(LogFormat.HEADER + 4 + 2 * 25, moved, "both PutStreams as TailMoved");
        // Without a committed record the first is written whole; the second moves the batch's own.
        assertEquals(LogFormat.HEADER + 4 + (1 + 4 + LogFormat.record(once).length) + 25, whole);
    }

    @Test
    void aRecordWithAnyOtherFieldChangedIsWrittenWhole() throws Exception {
        RecordComponent[] components = StreamRecord.class.getRecordComponents();
        Class<?>[] types = new Class<?>[components.length];
        for (int i = 0; i < components.length; i++) {
            types[i] = components[i].getType();
        }
        List<String> checked = new ArrayList<>();
        for (int i = 0; i < components.length; i++) {
            String name = components[i].getName();
            if (name.equals("tail") || name.equals("lastAccessMillis")) {
                continue;
            }
            Object[] values = new Object[components.length];
            for (int k = 0; k < components.length; k++) {
                values[k] = components[k].getAccessor().invoke(BEFORE);
            }
            values[i] = changed(values[i], types[i]);
            StreamRecord other =
                    StreamRecord.class.getDeclaredConstructor(types).newInstance(values);
            StreamRecord after = moved(other, 256);
            List<Mutation> in = List.of(new Mutation.PutStream(after));

            assertEquals(in, roundTrip(in, id -> BEFORE), name);
            int size = LogFormat.encode(in, id -> BEFORE, null).bytes().remaining();
            assertTrue(size > LogFormat.HEADER + 4 + 25, name + " changed, yet written as a TailMoved");
            checked.add(name);
        }
        assertEquals(components.length - 2, checked.size(), "every other field: " + checked);
    }

    @Test
    void aStreamDroppedAndPutAgainInOneBatchIsWrittenWhole() {
        StreamRecord again = moved(BEFORE, 1);
        List<Mutation> in = List.of(new Mutation.DropStream(7), new Mutation.PutStream(again));

        int size = LogFormat.encode(in, id -> BEFORE, null).bytes().remaining();
        assertTrue(size > LogFormat.HEADER + 4 + 9 + 25, "after a drop a TailMoved would have nothing to move");
    }

    /** Another value of a field of {@link #BEFORE}, as valid a record as it. */
    private static Object changed(Object value, Class<?> type) {
        if (type == long.class) {
            long v = (Long) value;
            return v == 100 ? 99L : v + 1; // retainedFrom may not pass the tail
        }
        if (type == Long.class) {
            return value == null ? 1L : (Long) value + 1;
        }
        if (type == String.class) {
            return value + "x";
        }
        if (type == boolean.class) {
            return !(Boolean) value;
        }
        if (type == StreamRecord.ProducerTuple.class) {
            return new StreamRecord.ProducerTuple("writer-2", 3, 9);
        }
        if (type == StreamRecord.Lifecycle.class) {
            return StreamRecord.Lifecycle.SOFT_DELETED;
        }
        throw new AssertionError("a field of a type this test does not know: " + type);
    }
}
