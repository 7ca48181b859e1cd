package dev.tether.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.store.Mutation;
import dev.tether.store.ProducerRecord;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every mutation, with every optional field set and unset, comes back from a batch as it went in. */
class LogFormatTest {
    private static List<Mutation> roundTrip(List<Mutation> in) {
        LogFormat.Encoded e = LogFormat.encode(in, null);
        ByteBuffer all = e.bytes();
        ByteBuffer header = all.duplicate().limit(LogFormat.HEADER);
        int length = LogFormat.payloadLength(header, all.remaining());
        ByteBuffer payload = all.duplicate()
                .position(LogFormat.HEADER)
                .limit(LogFormat.HEADER + length)
                .slice();
        assertEquals(true, LogFormat.intact(header, payload));
        return LogFormat.decode(payload).stream()
                .map(d -> switch (d) {
                    case LogFormat.Decoded.Other o -> o.mutation();
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
}
