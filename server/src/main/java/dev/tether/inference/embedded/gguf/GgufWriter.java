package dev.tether.inference.embedded.gguf;

import java.io.IOException;
import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a GGUF v3 file: metadata key/values, tensor descriptors, then the aligned tensor data.
 * Only the value and tensor types Tether's demo models need are supported.
 *
 * <p>Usage: add metadata and tensors (each with a {@link TensorData} that streams its bytes),
 * then {@link #write(FileChannel)}. Not thread-safe.
 */
public final class GgufWriter {
    static final int ALIGNMENT = 32;
    private static final int MAGIC = 0x46554747; // "GGUF" little-endian

    private final List<byte[]> metadata = new ArrayList<>();
    private final List<Tensor> tensors = new ArrayList<>();

    /** Tensor element types (ggml type ids). */
    public enum Type {
        F32(0, 1, 4),
        Q8_0(8, 32, 34);

        final int id;
        final int blockValues;
        final int blockBytes;

        Type(int id, int blockValues, int blockBytes) {
            this.id = id;
            this.blockValues = blockValues;
            this.blockBytes = blockBytes;
        }

        long bytes(long values) {
            if (values % blockValues != 0) {
                throw new IllegalArgumentException(name() + " needs rows that are a multiple of " + blockValues);
            }
            return values / blockValues * blockBytes;
        }
    }

    /** Streams a tensor's encoded bytes into the buffer, flushing through {@code out}. */
    @FunctionalInterface
    public interface TensorData {
        void write(Sink out) throws IOException;
    }

    /** Where tensor bytes go; {@link #room(int)} guarantees space for the next write. */
    public interface Sink {
        ByteBuffer room(int bytes) throws IOException;
    }

    private record Tensor(String name, long[] dims, Type type, long bytes, TensorData data) {}

    public GgufWriter string(String key, String value) {
        return kv(key, 8, b -> putString(b, value));
    }

    public GgufWriter u32(String key, int value) {
        return kv(key, 4, b -> b.putInt(value));
    }

    public GgufWriter f32(String key, float value) {
        return kv(key, 6, b -> b.putFloat(value));
    }

    public GgufWriter bool(String key, boolean value) {
        return kv(key, 7, b -> b.put((byte) (value ? 1 : 0)));
    }

    public GgufWriter strings(String key, List<String> values) {
        return kv(key, 9, b -> {
            b.putInt(8).putLong(values.size());
            values.forEach(v -> putString(b, v));
        });
    }

    public GgufWriter floats(String key, float[] values) {
        return kv(key, 9, b -> {
            b.putInt(6).putLong(values.length);
            for (float v : values) b.putFloat(v);
        });
    }

    public GgufWriter ints(String key, int[] values) {
        return kv(key, 9, b -> {
            b.putInt(5).putLong(values.length);
            for (int v : values) b.putInt(v);
        });
    }

    /** Adds a tensor; {@code dims} lists the fastest-varying (input) dimension first. */
    public GgufWriter tensor(String name, Type type, TensorData data, long... dims) {
        long values = 1;
        for (long d : dims) values *= d;
        tensors.add(new Tensor(name, dims.clone(), type, type.bytes(values), data));
        return this;
    }

    /** Writes the model to {@code ch} (an empty file) and returns its size in bytes. */
    public long write(FileChannel ch) throws IOException {
        ChannelSink sink = new ChannelSink(ch);
        writeHeader(sink);
        sink.pad();
        for (Tensor t : tensors) {
            long start = sink.position();
            t.data.write(sink);
            if (sink.position() - start != t.bytes) {
                throw new IllegalStateException(t.name + ": wrote " + (sink.position() - start) + " of " + t.bytes);
            }
            sink.pad();
        }
        sink.flush();
        return sink.position();
    }

    private void writeHeader(ChannelSink sink) throws IOException {
        ByteBuffer b = sink.room(24);
        b.putInt(MAGIC).putInt(3).putLong(tensors.size()).putLong(metadata.size());
        for (byte[] kv : metadata) sink.room(kv.length).put(kv);
        long offset = 0;
        for (Tensor t : tensors) {
            byte[] name = t.name.getBytes(StandardCharsets.UTF_8);
            ByteBuffer info = sink.room(8 + name.length + 4 + 8 * t.dims.length + 12);
            info.putLong(name.length).put(name).putInt(t.dims.length);
            for (long d : t.dims) info.putLong(d);
            info.putInt(t.type.id).putLong(offset);
            offset = align(offset + t.bytes);
        }
    }

    private interface Encoder {
        void encode(ByteBuffer b);
    }

    private GgufWriter kv(String key, int type, Encoder value) {
        for (int capacity = 4096; ; capacity *= 2) {
            ByteBuffer b = ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
            try {
                putString(b, key);
                b.putInt(type);
                value.encode(b);
            } catch (BufferOverflowException tooSmall) {
                continue; // encode again into a buffer twice the size
            }
            byte[] out = new byte[b.position()];
            b.flip().get(out);
            metadata.add(out);
            return this;
        }
    }

    private static void putString(ByteBuffer b, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        b.putLong(bytes.length).put(bytes);
    }

    static long align(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /** Buffers writes into 1 MiB chunks. */
    private static final class ChannelSink implements Sink {
        private final FileChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        private long flushed;

        ChannelSink(FileChannel ch) {
            this.ch = ch;
        }

        @Override
        public ByteBuffer room(int bytes) throws IOException {
            if (buf.remaining() < bytes) flush();
            if (buf.remaining() < bytes) throw new IOException("a single write of " + bytes + " bytes is too large");
            return buf;
        }

        long position() {
            return flushed + buf.position();
        }

        void pad() throws IOException {
            int pad = (int) (align(position()) - position());
            room(pad).put(new byte[pad]);
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) flushed += ch.write(buf);
            buf.clear();
        }
    }
}
