package dev.tether.store.log;

import dev.tether.store.ProducerRecord;
import dev.tether.store.StoreContents;
import dev.tether.store.StreamRecord;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import java.util.zip.CheckedOutputStream;

/**
 * The log store's checkpoint: the metadata its memory holds (stream records, producer state, the
 * id high-water mark) as of one log offset, and for each stream's index how much of it is kept
 * (its first position and its number of messages), so that recovery replays only the log after it,
 * rebuilds the indexes of the segments before it from their index files ({@link SegmentIndex}),
 * and the segments before it whose data nothing references any more can be deleted (Kafka's
 * producer-state snapshots, here with the rest of the metadata). Its size grows with the number
 * of streams, not with the messages kept. Written to a temporary file, fsynced, renamed over the
 * previous one, and the directory fsynced: a crash leaves the old checkpoint or the new one,
 * whole. A CRC32C at the end detects damage.
 *
 * <pre>magic:i32 offset:i64 maxId:i64 n:i32 (length:i32 record)* n:i32 (streamId:i64 producer:utf
 * epoch:i64 seq:i64)* n:i32 (streamId:i64 firstPosition:i64 count:i32)* crc32c:i32</pre>
 *
 * <p>The first version ({@code TLC1}, read but no longer written) held every index whole:
 * {@code n:i32 (streamId:i64 count:i32 (position:i64 location:i64 length:i32)*)*}.
 */
final class Checkpoint {
    static final String FILE = "checkpoint";
    private static final int MAGIC = 0x544c4332; // "TLC2"
    private static final int MAGIC_WHOLE_INDEXES = 0x544c4331; // "TLC1"

    private Checkpoint() {}

    /**
     * A checkpoint read back: the state as of {@code offset}, and either each stream's index whole
     * ({@code TLC1}) or what each keeps, to be rebuilt from the segments' index files ({@code kept}).
     */
    record Loaded(long offset, StoreContents contents, Map<Long, StreamIndex> indexes, Map<Long, Kept> kept) {}

    /** What one stream's index keeps: the messages from {@code firstPosition} on, {@code count} of them. */
    record Kept(long firstPosition, int count) {}

    /** Thrown when the checkpoint file exists but fails its CRC or does not parse. */
    static final class Damaged extends IOException {
        private static final long serialVersionUID = 1L;

        Damaged(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** @return the checkpoint's size in bytes */
    static long write(Path dir, long offset, StoreContents contents, Map<Long, StreamIndex> indexes)
            throws IOException {
        long size;
        Path tmp = dir.resolve(FILE + ".tmp");
        try (FileOutputStream file = new FileOutputStream(tmp.toFile())) {
            CRC32C crc = new CRC32C();
            DataOutputStream out = new DataOutputStream(new CheckedOutputStream(new BufferedOutputStream(file), crc));
            out.writeInt(MAGIC);
            out.writeLong(offset);
            out.writeLong(contents.maxStreamId());
            out.writeInt(contents.streams().size());
            for (StreamRecord r : contents.streams()) {
                byte[] b = LogFormat.record(r);
                out.writeInt(b.length);
                out.write(b);
            }
            out.writeInt(contents.producers().size());
            for (ProducerRecord p : contents.producers()) {
                out.writeLong(p.streamId());
                out.writeUTF(p.producerId());
                out.writeLong(p.epoch());
                out.writeLong(p.seq());
            }
            out.writeInt(indexes.size());
            for (Map.Entry<Long, StreamIndex> e : indexes.entrySet()) {
                Kept kept = e.getValue().kept();
                out.writeLong(e.getKey());
                out.writeLong(kept.firstPosition());
                out.writeInt(kept.count());
            }
            out.flush();
            int sum = (int) crc.getValue();
            new DataOutputStream(file).writeInt(sum); // after the checked bytes, not part of them
            file.getFD().sync();
            size = file.getChannel().size();
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return size;
    }

    /** The checkpoint in {@code dir}, or null when there is none. */
    static Loaded read(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.exists(file)) {
            return null;
        }
        byte[] all = Files.readAllBytes(file);
        if (all.length < 8) {
            throw new Damaged(file + " is truncated", null);
        }
        CRC32C crc = new CRC32C();
        crc.update(all, 0, all.length - 4);
        if ((int) crc.getValue() != ByteBuffer.wrap(all, all.length - 4, 4).getInt()) {
            throw new Damaged(file + " fails its CRC", null);
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(all, 0, all.length - 4))) {
            int magic = in.readInt();
            if (magic != MAGIC && magic != MAGIC_WHOLE_INDEXES) {
                throw new Damaged(file + " is not a checkpoint", null);
            }
            long offset = in.readLong();
            long maxId = in.readLong();
            List<StreamRecord> streams = new ArrayList<>();
            for (int n = in.readInt(); n > 0; n--) {
                byte[] b = new byte[in.readInt()];
                in.readFully(b);
                streams.add(LogFormat.record(b));
            }
            List<ProducerRecord> producers = new ArrayList<>();
            for (int n = in.readInt(); n > 0; n--) {
                producers.add(new ProducerRecord(in.readLong(), in.readUTF(), in.readLong(), in.readLong()));
            }
            StoreContents contents = new StoreContents(streams, producers, maxId, 0);
            if (magic == MAGIC_WHOLE_INDEXES) {
                Map<Long, StreamIndex> indexes = new HashMap<>();
                for (int n = in.readInt(); n > 0; n--) {
                    indexes.put(in.readLong(), StreamIndex.readFrom(in));
                }
                return new Loaded(offset, contents, indexes, null);
            }
            Map<Long, Kept> kept = new HashMap<>();
            for (int n = in.readInt(); n > 0; n--) {
                kept.put(in.readLong(), new Kept(in.readLong(), in.readInt()));
            }
            return new Loaded(offset, contents, null, kept);
        } catch (RuntimeException e) {
            throw new Damaged(file + " does not parse: " + e, e);
        }
    }
}
