package dev.tether.store.log;

import dev.tether.store.Mutation;
import dev.tether.store.ProducerRecord;
import dev.tether.store.StoredMessage;
import dev.tether.store.StreamRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongFunction;
import java.util.zip.CRC32C;

/**
 * The on-disk format of the log store: one batch per commit, the unit of atomicity (Kafka's
 * record batch). A batch is a header — magic, payload length, CRC32C of the payload — and a
 * payload holding the commit's mutations. Recovery trusts a batch only when its magic, length and
 * CRC check out, so a batch torn by a crash (or never fully written) is detected and cut off,
 * never half-applied.
 *
 * <pre>
 * batch   := magic:i32 length:i32 crc32c:i32 payload[length]
 * payload := count:i32 mutation*
 * mutation:= 1 streamId:i64 (position:i64 length:i32 bytes)*  -- AppendMessages, preceded by n:i32
 *          | 2 length:i32 record                              -- PutStream (see {@link #record(StreamRecord)})
 *          | 3 streamId:i64 idLength:i32 id epoch:i64 seq:i64 -- PutProducer
 *          | 4 streamId:i64 before:i64                        -- TrimMessages
 *          | 5 streamId:i64                                   -- DropStream
 *          | 6 streamId:i64 tail:i64 lastAccess:i64           -- TailMoved
 * </pre>
 *
 * <p>A TailMoved is a PutStream whose record differs from the stream's record before it (in
 * the store, or earlier in the batch) only in its tail and last access: what every plain append
 * writes. It takes 25 bytes where the whole record took about a hundred, and skips the record's
 * serialization; replay rebuilds the record from the one before it ({@link Decoded.TailMoved}).
 * (Added 2026-12-06: a log written since cannot be read by an older server.)
 *
 * <p>Stateless and thread-safe.
 */
final class LogFormat {
    static final int MAGIC = 0x544c4231; // "TLB1"
    static final int HEADER = 12;

    private LogFormat() {}

    /** A batch ready to write, and where in it each appended message's bytes start. */
    record Encoded(ByteBuffer bytes, List<long[]> dataOffsets) {}

    /** The largest batch encoded into a reused buffer; a bigger one gets a buffer of its own. */
    static final int REUSED_BYTES = 4 << 20;

    /**
     * Encodes {@code mutations} as one batch. {@code dataOffsets} gets, per appended message in
     * order, {@code {streamId, position, offset of its bytes within the batch, length}}.
     *
     * @param committed the stream records as the store holds them before this batch (by id, null
     *     for none), against which a PutStream that only moves the tail is written as a TailMoved
     * @param reuse a direct buffer to encode into when the batch fits (the writer's own, so a commit
     *     allocates no batch-sized array and the file write needs no copy into a temporary direct
     *     buffer), or null; the batch is only valid until the buffer is reused
     */
    static Encoded encode(List<Mutation> mutations, LongFunction<StreamRecord> committed, ByteBuffer reuse) {
        int size = HEADER + 4;
        List<byte[]> records = new ArrayList<>(); // per PutStream: its record, or null for a TailMoved
        Map<Long, StreamRecord> staged = new HashMap<>(); // the batch's own PutStreams (null: dropped) so far
        for (Mutation m : mutations) {
            size += 1;
            switch (m) {
                case Mutation.AppendMessages a -> {
                    size += 8 + 4;
                    for (StoredMessage msg : a.messages()) {
                        size += 8 + 4 + msg.length();
                    }
                }
                case Mutation.PutStream p -> {
                    StreamRecord r = p.record();
                    StreamRecord before = staged.containsKey(r.id()) ? staged.get(r.id()) : committed.apply(r.id());
                    staged.put(r.id(), r);
                    if (onlyTailMoved(before, r)) {
                        records.add(null);
                        size += 24;
                    } else {
                        byte[] j = record(r);
                        records.add(j);
                        size += 4 + j.length;
                    }
                }
                case Mutation.PutProducer p ->
                    size += 8 + 4 + p.producer().producerId().getBytes(StandardCharsets.UTF_8).length + 16;
                case Mutation.TrimMessages t -> size += 16;
                case Mutation.DropStream d -> {
                    staged.put(d.streamId(), null); // gone: a PutStream after it is written whole
                    size += 8;
                }
            }
        }
        ByteBuffer b = reuse != null && reuse.capacity() >= size
                ? reuse.clear().limit(size)
                : size <= REUSED_BYTES
                        ? ByteBuffer.allocateDirect(Integer.highestOneBit(size - 1) << 1)
                                .limit(size)
                        : ByteBuffer.allocate(size);
        b.position(HEADER);
        b.putInt(mutations.size());
        List<long[]> offsets = new ArrayList<>();
        int recordIndex = 0;
        for (Mutation m : mutations) {
            switch (m) {
                case Mutation.AppendMessages a -> {
                    b.put((byte) 1).putLong(a.streamId()).putInt(a.messages().size());
                    for (StoredMessage msg : a.messages()) {
                        b.putLong(msg.position()).putInt(msg.length());
                        offsets.add(new long[] {a.streamId(), msg.position(), b.position(), msg.length()});
                        b.put(msg.data());
                    }
                }
                case Mutation.PutStream p -> {
                    byte[] j = records.get(recordIndex++);
                    if (j == null) {
                        StreamRecord r = p.record();
                        b.put((byte) 6).putLong(r.id()).putLong(r.tail()).putLong(r.lastAccessMillis());
                    } else {
                        b.put((byte) 2).putInt(j.length).put(j);
                    }
                }
                case Mutation.PutProducer p -> {
                    byte[] id = p.producer().producerId().getBytes(StandardCharsets.UTF_8);
                    b.put((byte) 3)
                            .putLong(p.producer().streamId())
                            .putInt(id.length)
                            .put(id)
                            .putLong(p.producer().epoch())
                            .putLong(p.producer().seq());
                }
                case Mutation.TrimMessages t ->
                    b.put((byte) 4).putLong(t.streamId()).putLong(t.beforePosition());
                case Mutation.DropStream d -> b.put((byte) 5).putLong(d.streamId());
            }
        }
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(HEADER).limit(size));
        b.putInt(0, MAGIC).putInt(4, size - HEADER).putInt(8, (int) crc.getValue());
        b.flip();
        return new Encoded(b, offsets);
    }

    /**
     * The payload length of the batch whose header is in {@code header}, or -1 when it is not a
     * batch header (a torn or zeroed tail).
     */
    static int payloadLength(ByteBuffer header, long roomLeft) {
        if (header.remaining() < HEADER || header.getInt(0) != MAGIC) {
            return -1;
        }
        int length = header.getInt(4);
        return length < 4 || length > roomLeft - HEADER ? -1 : length;
    }

    /** Whether the payload matches the CRC in its header. */
    static boolean intact(ByteBuffer header, ByteBuffer payload) {
        CRC32C crc = new CRC32C();
        crc.update(payload.duplicate());
        return (int) crc.getValue() == header.getInt(8);
    }

    /** A decoded mutation; appended messages carry where their bytes start within the payload. */
    sealed interface Decoded {
        record Append(long streamId, long position, int payloadOffset, int length) implements Decoded {}

        /** A PutStream of the stream's record before it (already replayed) with this tail and last access. */
        record TailMoved(long streamId, long tail, long lastAccessMillis) implements Decoded {
            /** The PutStream it stands for, given the stream's record before it. */
            Mutation.PutStream over(StreamRecord before) {
                return new Mutation.PutStream(before.withTail(tail).withLastAccess(lastAccessMillis));
            }
        }

        record Other(Mutation mutation) implements Decoded {}
    }

    /**
     * Whether {@code after} is {@code before} with only its tail and last access changed. Record
     * equality, so a field added to {@link StreamRecord} is compared without a change here.
     */
    private static boolean onlyTailMoved(StreamRecord before, StreamRecord after) {
        return before != null
                && after.tail() >= before.retainedFrom() // else withTail would refuse it
                && before.withTail(after.tail())
                        .withLastAccess(after.lastAccessMillis())
                        .equals(after);
    }

    /** The mutations of an intact payload, in order. */
    static List<Decoded> decode(ByteBuffer payload) {
        ByteBuffer b = payload.duplicate();
        int count = b.getInt();
        List<Decoded> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            byte type = b.get();
            switch (type) {
                case 1 -> {
                    long id = b.getLong();
                    int n = b.getInt();
                    for (int k = 0; k < n; k++) {
                        long position = b.getLong();
                        int length = b.getInt();
                        out.add(new Decoded.Append(id, position, b.position(), length));
                        b.position(b.position() + length);
                    }
                }
                case 2 -> {
                    byte[] j = new byte[b.getInt()];
                    b.get(j);
                    out.add(new Decoded.Other(new Mutation.PutStream(record(j))));
                }
                case 3 -> {
                    long id = b.getLong();
                    byte[] producer = new byte[b.getInt()];
                    b.get(producer);
                    out.add(new Decoded.Other(new Mutation.PutProducer(new ProducerRecord(
                            id, new String(producer, StandardCharsets.UTF_8), b.getLong(), b.getLong()))));
                }
                case 4 -> out.add(new Decoded.Other(new Mutation.TrimMessages(b.getLong(), b.getLong())));
                case 5 -> out.add(new Decoded.Other(new Mutation.DropStream(b.getLong())));
                case 6 -> out.add(new Decoded.TailMoved(b.getLong(), b.getLong(), b.getLong()));
                default -> throw new IllegalStateException("unknown mutation type " + type + " in an intact batch");
            }
        }
        return out;
    }

    /**
     * A stream record in binary: id, path, content type, TTL?, expiry?, created, last access,
     * tail, retained-from, closed, closed-by?, last Stream-Seq?, fork source?, fork position,
     * lifecycle ordinal (a {@code ?} field is a presence byte, then the value).
     */
    static byte[] record(StreamRecord r) {
        try {
            java.io.ByteArrayOutputStream bytes =
                    new java.io.ByteArrayOutputStream(96 + 2 * r.path().length());
            java.io.DataOutputStream out = new java.io.DataOutputStream(bytes);
            out.writeLong(r.id());
            out.writeUTF(r.path());
            out.writeUTF(r.contentType());
            optionalLong(out, r.ttlSeconds());
            optionalLong(out, r.expiresAtMillis());
            out.writeLong(r.createdAtMillis());
            out.writeLong(r.lastAccessMillis());
            out.writeLong(r.tail());
            out.writeLong(r.retainedFrom());
            out.writeBoolean(r.closed());
            out.writeBoolean(r.closedBy() != null);
            if (r.closedBy() != null) {
                out.writeUTF(r.closedBy().producerId());
                out.writeLong(r.closedBy().epoch());
                out.writeLong(r.closedBy().seq());
            }
            out.writeBoolean(r.lastStreamSeq() != null);
            if (r.lastStreamSeq() != null) {
                out.writeUTF(r.lastStreamSeq());
            }
            optionalLong(out, r.forkSourceId());
            out.writeLong(r.forkPosition());
            out.writeByte(r.lifecycle().ordinal());
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void optionalLong(java.io.DataOutputStream out, Long value) throws IOException {
        out.writeBoolean(value != null);
        if (value != null) {
            out.writeLong(value);
        }
    }

    private static Long optionalLong(java.io.DataInputStream in) throws IOException {
        return in.readBoolean() ? in.readLong() : null;
    }

    static StreamRecord record(byte[] encoded) {
        try (java.io.DataInputStream in = new java.io.DataInputStream(new java.io.ByteArrayInputStream(encoded))) {
            long id = in.readLong();
            String path = in.readUTF();
            String contentType = in.readUTF();
            Long ttl = optionalLong(in);
            Long expires = optionalLong(in);
            long created = in.readLong();
            long lastAccess = in.readLong();
            long tail = in.readLong();
            long retainedFrom = in.readLong();
            boolean closed = in.readBoolean();
            StreamRecord.ProducerTuple closedBy = in.readBoolean()
                    ? new StreamRecord.ProducerTuple(in.readUTF(), in.readLong(), in.readLong())
                    : null;
            String lastStreamSeq = in.readBoolean() ? in.readUTF() : null;
            Long forkSource = optionalLong(in);
            long forkPosition = in.readLong();
            StreamRecord.Lifecycle lifecycle = StreamRecord.Lifecycle.values()[in.readByte()];
            return new StreamRecord(
                    id,
                    path,
                    contentType,
                    ttl,
                    expires,
                    created,
                    lastAccess,
                    tail,
                    retainedFrom,
                    closed,
                    closedBy,
                    lastStreamSeq,
                    forkSource,
                    forkPosition,
                    lifecycle);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
