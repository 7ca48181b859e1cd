package dev.tether.inference.embedded.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * A GGUF model loaded into llama.cpp, with its vocabulary: tokenization, token pieces and chat
 * templating. One per process. Thread-safe: the vocabulary calls are read-only in llama.cpp.
 */
@SuppressWarnings("restricted")
public final class LlamaModel implements AutoCloseable {
    private final LlamaNative api;
    private final MemorySegment model;
    private final MemorySegment vocab;
    private final byte[][] pieces;
    private final boolean[] endOfGeneration;
    private final String description;
    private final String fingerprint;
    private final int contextTrain;
    private final long bytesPerToken;

    private LlamaModel(LlamaNative api, MemorySegment model, Path file) throws Throwable {
        this.api = api;
        this.model = model;
        this.vocab = (MemorySegment) api.modelVocab.invoke(model);
        int n = (int) api.vocabNTokens.invoke(vocab);
        this.pieces = new byte[n][];
        this.endOfGeneration = new boolean[n];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            for (int t = 0; t < n; t++) {
                int len = (int) api.tokenToPiece.invoke(vocab, t, buf, 256, 0, false);
                pieces[t] =
                        len <= 0 ? new byte[0] : buf.asSlice(0, len).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                endOfGeneration[t] = (boolean) api.vocabIsEog.invoke(vocab, t);
            }
            MemorySegment desc = arena.allocate(256);
            api.modelDesc.invoke(model, desc, 256L);
            long params = (long) api.modelNParams.invoke(model);
            this.description =
                    desc.getString(0).replace(" ?B", "") + String.format(", %.1fM params, vocab %d", params / 1e6, n);
        }
        this.contextTrain = (int) api.modelNCtxTrain.invoke(model);
        int layers = (int) api.modelNLayer.invoke(model);
        int embd = (int) api.modelNEmbd.invoke(model);
        int heads = (int) api.modelNHead.invoke(model);
        int kvHeads = (int) api.modelNHeadKv.invoke(model);
        // f16 K and V for every layer: what one cached token costs in the KV buffer.
        this.bytesPerToken = 2L * 2 * layers * ((long) embd / heads * kvHeads);
        this.fingerprint = fingerprint(file, api.build + "|" + description);
    }

    /**
     * Loads a GGUF file. Fails with a message naming the problem: a missing or unreadable file,
     * a file that is not GGUF, or whatever llama.cpp reported.
     */
    public static LlamaModel load(Path file) throws LlamaException {
        checkFile(file);
        LlamaNative api = LlamaNative.get();
        try (Arena arena = Arena.ofConfined()) {
            api.clearErrors();
            MemorySegment params = (MemorySegment) api.modelDefaultParams.invoke((SegmentAllocator) arena);
            MemorySegment path = arena.allocateFrom(file.toAbsolutePath().toString());
            MemorySegment model = (MemorySegment) api.modelLoad.invoke(path, params);
            if (model.equals(MemorySegment.NULL)) {
                String why = api.recentErrors();
                throw new LlamaException("llama.cpp could not load " + file + (why.isEmpty() ? "" : ": " + why));
            }
            return new LlamaModel(api, model, file);
        } catch (LlamaException e) {
            throw e;
        } catch (Throwable t) {
            throw new LlamaException("cannot load " + file + ": " + t, t);
        }
    }

    private static void checkFile(Path file) throws LlamaException {
        if (!Files.isRegularFile(file)) throw new LlamaException("model file not found: " + file);
        try (InputStream in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(4);
            if (!new String(magic, StandardCharsets.ISO_8859_1).equals("GGUF")) {
                throw new LlamaException(file + " is not a GGUF model (it does not start with the GGUF magic)");
            }
        } catch (IOException e) {
            throw new LlamaException("cannot read model file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Tokens of {@code text}; {@code addSpecial} adds the BOS token if the model wants one. */
    public int[] tokenize(String text, boolean addSpecial) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(utf8.length + 1L);
            MemorySegment.copy(utf8, 0, in, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, utf8.length);
            int capacity = utf8.length + 8;
            MemorySegment out = arena.allocate(JAVA_INT, capacity);
            int n = (int) api.tokenize.invoke(vocab, in, utf8.length, out, capacity, addSpecial, true);
            if (n < 0) throw new IllegalStateException("llama_tokenize needed " + -n + " slots");
            return out.asSlice(0, 4L * n).toArray(JAVA_INT);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The UTF-8 bytes a token stands for (empty for control tokens). */
    public byte[] piece(int token) {
        return pieces[token];
    }

    /** True for end-of-generation tokens (EOS, end of turn). */
    public boolean isEndOfGeneration(int token) {
        return endOfGeneration[token];
    }

    public int vocabSize() {
        return pieces.length;
    }

    /** The chat template stored in the model's metadata, or null. */
    public String chatTemplate() {
        try {
            MemorySegment p = (MemorySegment) api.modelChatTemplate.invoke(model, MemorySegment.NULL);
            return p.equals(MemorySegment.NULL)
                    ? null
                    : p.reinterpret(Integer.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A role and its text for {@link #applyTemplate}. */
    public record Turn(String role, String content) {}

    /**
     * Renders {@code turns} with llama.cpp's built-in template matching (no Jinja: the template
     * is recognised by its markers). Returns null if llama.cpp does not recognise {@code template}.
     */
    public String applyTemplate(String template, List<Turn> turns, boolean addAssistant) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment chat = arena.allocate(ADDRESS.byteSize() * 2 * Math.max(1, turns.size()));
            long total = 0;
            for (int i = 0; i < turns.size(); i++) {
                chat.setAtIndex(ADDRESS, 2L * i, arena.allocateFrom(turns.get(i).role()));
                chat.setAtIndex(
                        ADDRESS, 2L * i + 1, arena.allocateFrom(turns.get(i).content()));
                total += turns.get(i).content().length() * 4L + 64;
            }
            MemorySegment tmpl = arena.allocateFrom(template);
            int capacity = (int) Math.min(Integer.MAX_VALUE - 8, total + 256);
            MemorySegment buf = arena.allocate(capacity);
            int n = (int) api.chatApplyTemplate.invoke(tmpl, chat, (long) turns.size(), addAssistant, buf, capacity);
            if (n < 0) return null;
            if (n > capacity) {
                buf = arena.allocate(n);
                n = (int) api.chatApplyTemplate.invoke(tmpl, chat, (long) turns.size(), addAssistant, buf, n);
            }
            return new String(
                    buf.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The context length the model was trained for. */
    public int contextTrain() {
        return contextTrain;
    }

    /** KV-cache bytes one token occupies (f16 keys and values, all layers). */
    public long bytesPerToken() {
        return bytesPerToken;
    }

    /** llama.cpp's description plus parameter count and vocabulary size. */
    public String description() {
        return description;
    }

    /**
     * Identifies the model and the engine build: KV state saved under one fingerprint is only
     * ever restored under the same one. Hashes the file's size, its first 4 MiB (all metadata)
     * and samples of the rest, so it costs milliseconds even for large models.
     */
    public String fingerprint() {
        return fingerprint;
    }

    MemorySegment handle() {
        return model;
    }

    LlamaNative api() {
        return api;
    }

    private static String fingerprint(Path file, String salt) throws IOException, NoSuchAlgorithmException {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        sha.update(salt.getBytes(StandardCharsets.UTF_8));
        try (FileChannel ch = FileChannel.open(file)) {
            long size = ch.size();
            sha.update(ByteBuffer.allocate(8).putLong(0, size));
            ByteBuffer head = ByteBuffer.allocate((int) Math.min(size, 4 << 20));
            ch.read(head, 0);
            sha.update(head.flip());
            for (int i = 1; i <= 8; i++) {
                ByteBuffer sample = ByteBuffer.allocate(64 << 10);
                ch.read(sample, Math.max(0, size * i / 8 - sample.capacity()));
                sha.update(sample.flip());
            }
        }
        return HexFormat.of().formatHex(sha.digest(), 0, 16);
    }

    @Override
    public void close() {
        try {
            api.modelFree.invoke(model);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
