package dev.tether.inference.embedded.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
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
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A GGUF model loaded into llama.cpp, with its vocabulary: tokenization, token pieces and chat
 * templating. One per process. Thread-safe: the vocabulary calls are read-only in llama.cpp.
 */
@SuppressWarnings("restricted")
public final class LlamaModel implements AutoCloseable {
    // llama_token_attr and llama_vocab_type values of b4916 (llama.h).
    private static final int ATTR_UNKNOWN = 1;
    private static final int ATTR_CONTROL = 1 << 3;
    private static final int ATTR_USER_DEFINED = 1 << 4;
    private static final int ATTR_LSTRIP = 1 << 7;
    private static final int ATTR_RSTRIP = 1 << 8;
    private static final int VOCAB_SPM = 1;
    private static final int VOCAB_BPE = 2;

    private final LlamaNative api;
    private final MemorySegment model;
    private final MemorySegment vocab;
    private final byte[][] pieces;
    private final boolean[] endOfGeneration;
    private final List<SpecialToken> specialTokens;
    private final int bos;
    private final int eos;
    private final int maxPieceBytes;
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
        int longest = 0;
        List<SpecialToken> specials = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            for (int t = 0; t < n; t++) {
                int len = (int) api.tokenToPiece.invoke(vocab, t, buf, 256, 0, false);
                if (len < 0) { // a piece longer than the buffer: llama.cpp says how long
                    MemorySegment big = arena.allocate(-len);
                    len = (int) api.tokenToPiece.invoke(vocab, t, big, -len, 0, false);
                    pieces[t] = big.asSlice(0, Math.max(0, len)).toArray(JAVA_BYTE);
                } else {
                    pieces[t] = buf.asSlice(0, len).toArray(JAVA_BYTE);
                }
                longest = Math.max(longest, pieces[t].length);
                endOfGeneration[t] = (boolean) api.vocabIsEog.invoke(vocab, t);
                int attr = (int) api.vocabGetAttr.invoke(vocab, t);
                if ((attr & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) != 0) {
                    MemorySegment text = (MemorySegment) api.vocabGetText.invoke(vocab, t);
                    String s = text.reinterpret(Integer.MAX_VALUE).getString(0);
                    if (!s.isEmpty()) {
                        specials.add(new SpecialToken(
                                t,
                                s,
                                (attr & ATTR_USER_DEFINED) == 0,
                                (attr & ATTR_LSTRIP) != 0,
                                (attr & ATTR_RSTRIP) != 0));
                    }
                }
            }
            MemorySegment desc = arena.allocate(256);
            api.modelDesc.invoke(model, desc, 256L);
            long params = (long) api.modelNParams.invoke(model);
            this.description =
                    desc.getString(0).replace(" ?B", "") + String.format(", %.1fM params, vocab %d", params / 1e6, n);
        }
        this.specialTokens = List.copyOf(specials);
        int type = (int) api.vocabType.invoke(vocab);
        // SentencePiece and BPE vocabularies never normalize input away: every input byte is
        // part of some token's piece, so no token covers more bytes than the longest piece.
        this.maxPieceBytes = type == VOCAB_SPM || type == VOCAB_BPE ? Math.max(1, longest) : 0;
        this.bos = (boolean) api.vocabGetAddBos.invoke(vocab) ? (int) api.vocabBos.invoke(vocab) : -1;
        this.eos = (boolean) api.vocabGetAddEos.invoke(vocab) ? (int) api.vocabEos.invoke(vocab) : -1;
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

    /**
     * Tokens of {@code text} with the markers in it parsed as control tokens, as llama.cpp's
     * tools do; {@code addSpecial} adds the BOS token if the model wants one. Never use it on
     * client text: a client could write the template's markers (ChatML's
     * {@code <|im_start|>}) and forge turns. Its cost grows with the square of the number of
     * markers in {@code text} (llama.cpp's partition).
     */
    public int[] tokenize(String text, boolean addSpecial) {
        return tokenize(text, addSpecial, true);
    }

    /**
     * Tokens of {@code text} as plain text: control tokens' text stays text; user-defined tokens
     * (which are not control tokens) are still recognised, as llama.cpp and Hugging Face do. No
     * BOS or EOS. Linear in the length of {@code text} when it holds no user-defined token.
     */
    public int[] tokenizeText(String text) {
        return tokenize(text, false, false);
    }

    private int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(utf8.length + 1L);
            MemorySegment.copy(utf8, 0, in, JAVA_BYTE, 0, utf8.length);
            int capacity = utf8.length + 8;
            MemorySegment out = arena.allocate(JAVA_INT, capacity);
            int n = (int) api.tokenize.invoke(vocab, in, utf8.length, out, capacity, addSpecial, parseSpecial);
            if (n < 0) throw new IllegalStateException("llama_tokenize needed " + -n + " slots");
            return out.asSlice(0, 4L * n).toArray(JAVA_INT);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * A token llama.cpp matches by its text before tokenizing (its special-token cache).
     *
     * @param control true for control and unknown tokens (matched only when parsing specials);
     *                false for user-defined tokens (matched in any text)
     * @param lstrip  whitespace before it is dropped
     * @param rstrip  whitespace after it is dropped
     */
    public record SpecialToken(int id, String text, boolean control, boolean lstrip, boolean rstrip) {}

    /** Control, unknown and user-defined tokens with their text. */
    public List<SpecialToken> specialTokens() {
        return specialTokens;
    }

    /** The token a prompt starts with, or -1 if the model wants none. */
    public int bos() {
        return bos;
    }

    /** The token a tokenized text ends with, or -1 if the model wants none (most do). */
    public int eos() {
        return eos;
    }

    /**
     * The fewest tokens {@code bytes} bytes of plain text can become, from the longest token
     * piece; 0 for vocabularies that may normalize input away (Unigram, WordPiece).
     */
    public long minTokens(long bytes) {
        return maxPieceBytes == 0 ? 0 : (bytes + maxPieceBytes - 1) / maxPieceBytes;
    }

    /** The UTF-8 bytes a token stands for (empty for control tokens). */
    public byte[] piece(int token) {
        return pieces[token];
    }

    /** True for end-of-generation tokens (EOS, end of turn). */
    public boolean isEndOfGeneration(int token) {
        return endOfGeneration[token];
    }

    /** The lowest end-of-generation token, or -1 when the vocabulary has none. */
    public int firstEndOfGeneration() {
        for (int t = 0; t < endOfGeneration.length; t++) {
            if (endOfGeneration[t]) return t;
        }
        return -1;
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
            return new String(buf.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
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

    MemorySegment vocab() {
        return vocab;
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
