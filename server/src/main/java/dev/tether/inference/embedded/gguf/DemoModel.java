package dev.tether.inference.embedded.gguf;

import dev.tether.inference.embedded.disk.DurableFile;
import dev.tether.inference.embedded.gguf.GgufWriter.Type;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Generates random-weight llama-architecture GGUF models with a small SentencePiece-style
 * vocabulary. Their output is gibberish, but their compute cost is that of a trained model of
 * the same shape, which is what tests, demos and benchmarks need. The same size and seed always
 * give the same bytes.
 */
public final class DemoModel {
    /** ChatML as a Jinja template; llama.cpp recognises it by its {@code <|im_start|>} marker. */
    public static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'"
            + " + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** Model shapes. {@code 134m} is the benchmark shape of the reference measurements. */
    public enum Size {
        TINY(512, 64, 2, 4, 4, 192, Type.F32),
        SMALL(4096, 256, 4, 8, 8, 768, Type.Q8_0),
        M134(32000, 768, 12, 12, 12, 2048, Type.Q8_0);

        final int vocab;
        final int dim;
        final int layers;
        final int heads;
        final int kvHeads;
        final int ff;
        final Type type;

        Size(int vocab, int dim, int layers, int heads, int kvHeads, int ff, Type type) {
            this.vocab = vocab;
            this.dim = dim;
            this.layers = layers;
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.ff = ff;
            this.type = type;
        }

        /** The name used on the command line: tiny, small or 134m. */
        public String label() {
            return this == M134 ? "134m" : name().toLowerCase(Locale.ROOT);
        }

        /** Parses {@link #label()}; throws IllegalArgumentException naming the choices. */
        public static Size parse(String label) {
            for (Size s : values()) {
                if (s.label().equalsIgnoreCase(label)) return s;
            }
            throw new IllegalArgumentException("unknown model size '" + label + "' (choose tiny, small or 134m)");
        }

        /** Parameter count of the generated model. */
        public long parameters() {
            long kvDim = (long) dim / heads * kvHeads;
            long perLayer = 2L * dim * dim + 2L * dim * kvDim + 3L * dim * ff + 2L * dim;
            return 2L * vocab * dim + layers * perLayer + dim;
        }
    }

    static final int CONTEXT_LENGTH = 4096;

    /** The shape {@code tether serve} generates when given neither a model nor an upstream. */
    public static final Size DEMO_SIZE = Size.SMALL;

    /** The seed of that demo model (the same seed gives the same bytes). */
    public static final long DEMO_SEED = 42;

    private DemoModel() {}

    /**
     * Writes a model of {@code size} to {@code out} and returns its size in bytes. The file is
     * replaced durably ({@link DurableFile}): after a crash or a power cut {@code out} is either
     * the old file, absent, or the complete new model.
     */
    public static long generate(Path out, Size size, long seed) throws IOException {
        return generate(out, size, seed, DurableFile.FSYNC);
    }

    /** {@link #generate(Path, Size, long)} with the given way of making the file durable. */
    public static long generate(Path out, Size size, long seed, DurableFile files) throws IOException {
        GgufWriter writer = writer(size, seed);
        return files.replace(out, writer::write);
    }

    private static GgufWriter writer(Size s, long seed) {
        Vocabulary vocab = Vocabulary.build(s.vocab);
        int headDim = s.dim / s.heads;
        int kvDim = headDim * s.kvHeads;
        GgufWriter w = new GgufWriter()
                .string("general.architecture", "llama")
                .string("general.name", "tether-demo-" + s.label())
                .string("general.description", "random weights: output is random text")
                .u32("general.alignment", GgufWriter.ALIGNMENT)
                .u32("general.file_type", s.type == Type.Q8_0 ? 7 : 0)
                .u32("llama.context_length", CONTEXT_LENGTH)
                .u32("llama.embedding_length", s.dim)
                .u32("llama.block_count", s.layers)
                .u32("llama.feed_forward_length", s.ff)
                .u32("llama.attention.head_count", s.heads)
                .u32("llama.attention.head_count_kv", s.kvHeads)
                .u32("llama.rope.dimension_count", headDim)
                .f32("llama.rope.freq_base", 10000f)
                .f32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .u32("llama.vocab_size", s.vocab)
                .string("tokenizer.ggml.model", "llama")
                .strings("tokenizer.ggml.tokens", vocab.tokens())
                .floats("tokenizer.ggml.scores", vocab.scores())
                .ints("tokenizer.ggml.token_type", vocab.types())
                .u32("tokenizer.ggml.unknown_token_id", 0)
                .u32("tokenizer.ggml.bos_token_id", 1)
                .u32("tokenizer.ggml.eos_token_id", 2)
                .bool("tokenizer.ggml.add_bos_token", true)
                .bool("tokenizer.ggml.add_eos_token", false)
                .string("tokenizer.chat_template", CHATML);
        SplittableRandom random = new SplittableRandom(seed);
        matrix(w, "token_embd.weight", s.type, random.split(), s.dim, s.vocab);
        w.tensor("output_norm.weight", Type.F32, ones(s.dim), s.dim);
        matrix(w, "output.weight", s.type, random.split(), s.dim, s.vocab);
        for (int i = 0; i < s.layers; i++) {
            String p = "blk." + i + ".";
            w.tensor(p + "attn_norm.weight", Type.F32, ones(s.dim), s.dim);
            matrix(w, p + "attn_q.weight", s.type, random.split(), s.dim, s.dim);
            matrix(w, p + "attn_k.weight", s.type, random.split(), s.dim, kvDim);
            matrix(w, p + "attn_v.weight", s.type, random.split(), s.dim, kvDim);
            matrix(w, p + "attn_output.weight", s.type, random.split(), s.dim, s.dim);
            w.tensor(p + "ffn_norm.weight", Type.F32, ones(s.dim), s.dim);
            matrix(w, p + "ffn_gate.weight", s.type, random.split(), s.dim, s.ff);
            matrix(w, p + "ffn_up.weight", s.type, random.split(), s.dim, s.ff);
            matrix(w, p + "ffn_down.weight", s.type, random.split(), s.ff, s.dim);
        }
        return w;
    }

    private static GgufWriter.TensorData ones(int n) {
        return out -> {
            for (int i = 0; i < n; i++) out.room(4).putFloat(1f);
        };
    }

    /** Adds a weight matrix of uniform random values scaled by 1/sqrt(fan-in), which keeps activations finite. */
    private static void matrix(GgufWriter w, String name, Type type, SplittableRandom random, int fanIn, int rows) {
        long values = (long) fanIn * rows;
        float scale = (float) (1 / Math.sqrt(fanIn));
        w.tensor(name, type, out -> fill(type, values, scale, random, out), fanIn, rows);
    }

    private static void fill(Type type, long values, float scale, SplittableRandom random, GgufWriter.Sink out)
            throws IOException {
        switch (type) {
            case F32 -> {
                for (long i = 0; i < values; i++) out.room(4).putFloat((float) (random.nextDouble(-1, 1) * scale));
            }
            case Q8_0 -> {
                // A block is an f16 scale and 32 int8 quants; the scale is fixed and valid (never
                // random bytes, which could be NaN or infinity).
                short d = Float.floatToFloat16(scale / 127f);
                for (long i = 0; i < values; i += 32) {
                    ByteBuffer b = out.room(34).putShort(d);
                    for (int j = 0; j < 32; j++) b.put((byte) (random.nextInt(255) - 127));
                }
            }
        }
    }

    /** The vocabulary: control tokens, 256 byte-fallback tokens, characters, then syllables. */
    record Vocabulary(List<String> tokens, float[] scores, int[] types) {
        static final String SPACE = "\u2581";

        static Vocabulary build(int size) {
            LinkedHashSet<String> pieces = new LinkedHashSet<>();
            List<Integer> kinds = new ArrayList<>();
            for (String control : List.of("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>")) {
                pieces.add(control);
                kinds.add(control.equals("<unk>") ? 2 : 3);
            }
            for (int b = 0; b < 256; b++) {
                pieces.add(String.format(Locale.ROOT, "<0x%02X>", b));
                kinds.add(6);
            }
            for (String piece : normalPieces()) {
                if (pieces.size() == size) break;
                if (pieces.add(piece)) kinds.add(1);
            }
            if (pieces.size() < size) throw new IllegalArgumentException("vocabulary size too large: " + size);
            float[] scores = new float[size];
            int[] types = new int[size];
            for (int i = 0; i < size; i++) {
                scores[i] = -i;
                types[i] = kinds.get(i);
            }
            return new Vocabulary(List.copyOf(pieces), scores, types);
        }

        private static List<String> normalPieces() {
            List<String> out = new ArrayList<>();
            out.add(SPACE);
            for (char c = '!'; c <= '~'; c++) out.add(String.valueOf(c));
            String consonants = "bcdfghjklmnprstvwz";
            String vowels = "aeiou";
            List<String> syllables = new ArrayList<>();
            for (char c : consonants.toCharArray()) {
                for (char v : vowels.toCharArray()) syllables.add("" + c + v);
            }
            List<String> level = syllables;
            while (out.size() < 200_000) {
                for (String s : level) {
                    out.add(s);
                    out.add(SPACE + s);
                }
                List<String> next = new ArrayList<>();
                for (String s : level) {
                    for (String t : syllables) {
                        next.add(s + t);
                        if (next.size() > 100_000) break;
                    }
                    if (next.size() > 100_000) break;
                }
                level = next;
            }
            return out;
        }
    }
}
