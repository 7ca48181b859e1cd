package dev.tether.inference.embedded.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A GBNF grammar held by llama.cpp's grammar sampler for one answer: which tokens may come next,
 * given the tokens accepted so far. The engine samples from its own logits and asks the grammar
 * only about the token it picked ({@link #allows}); when that token is refused it masks the whole
 * vocabulary ({@link #constrain}) and samples again, as llama.cpp's common sampler does.
 *
 * <p>Confined to one thread at a time;
 * {@link #close()} frees the native state and must be called exactly once.
 */
public final class LlamaGrammar implements AutoCloseable {
    private static final long ID = 0;
    private static final long LOGIT = 4;

    private static final long ENTRY = LlamaNative.TOKEN_DATA.byteSize();

    private final LlamaNative api;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment sampler;
    private final int vocabSize;
    private final MemorySegment single;
    private final MemorySegment singleArray;
    private MemorySegment all;
    private MemorySegment allArray;
    /** {@code llama_token_data} entries on the heap: id (as float bits), logit, p. */
    private float[] entries;

    private LlamaGrammar(LlamaNative api, MemorySegment sampler, int vocabSize) {
        this.api = api;
        this.sampler = sampler;
        this.vocabSize = vocabSize;
        this.single = arena.allocate(LlamaNative.TOKEN_DATA);
        this.singleArray = array(single, 1);
    }

    /** Compiles {@code gbnf} (start rule {@code root}) for {@code model}'s vocabulary. */
    public static LlamaGrammar compile(LlamaModel model, String gbnf) throws LlamaException {
        LlamaNative api = model.api();
        try (Arena tmp = Arena.ofConfined()) {
            api.clearErrors();
            MemorySegment s = (MemorySegment)
                    api.samplerInitGrammar.invoke(model.vocab(), tmp.allocateFrom(gbnf), tmp.allocateFrom("root"));
            if (s.equals(MemorySegment.NULL)) {
                String why = api.recentErrors();
                throw new LlamaException("llama.cpp refused the grammar" + (why.isEmpty() ? "" : ": " + why));
            }
            LlamaGrammar g = new LlamaGrammar(api, s, model.vocabSize());
            // b4916 prints why it cannot parse a grammar to stderr and returns a sampler that
            // allows everything, the end of the answer included; a real grammar that allows an
            // empty answer looks the same, so it is refused too.
            int end = model.firstEndOfGeneration();
            if (end >= 0 && g.allows(end)) {
                g.close();
                throw new LlamaException("llama.cpp could not parse the grammar (its reason is on stderr),"
                        + " or the grammar allows an empty answer");
            }
            return g;
        } catch (LlamaException e) {
            throw e;
        } catch (Throwable t) {
            throw new LlamaException("llama_sampler_init_grammar failed: " + t, t);
        }
    }

    /** Whether {@code token} may come next. */
    public boolean allows(int token) {
        single.set(JAVA_INT, ID, token);
        single.set(JAVA_FLOAT, LOGIT, 0f);
        apply(singleArray);
        return single.get(JAVA_FLOAT, LOGIT) != Float.NEGATIVE_INFINITY;
    }

    /**
     * Sets the logit of every token that may not come next to negative infinity and returns how
     * many may (0: the grammar is at a dead end for this vocabulary).
     */
    public int constrain(float[] logits) {
        if (all == null) {
            all = arena.allocate(ENTRY * vocabSize, 4);
            allArray = array(all, vocabSize);
            entries = new float[3 * vocabSize];
            for (int t = 0; t < vocabSize; t++) entries[3 * t] = Float.intBitsToFloat(t); // the ids
        }
        // Two bulk copies rather than a native access per token: the ids stay, the logits change.
        for (int t = 0; t < vocabSize; t++) entries[3 * t + 1] = logits[t];
        MemorySegment.copy(entries, 0, all, JAVA_FLOAT, 0, entries.length);
        allArray.set(JAVA_LONG, 8, vocabSize);
        allArray.set(JAVA_LONG, 16, -1);
        allArray.set(JAVA_BOOLEAN, 24, false);
        apply(allArray); // sets refused tokens' logits to -inf, in place and in order
        MemorySegment.copy(all, JAVA_FLOAT, 0, entries, 0, entries.length);
        int allowed = 0;
        for (int t = 0; t < vocabSize; t++) {
            if (entries[3 * t + 1] == Float.NEGATIVE_INFINITY) logits[t] = Float.NEGATIVE_INFINITY;
            else if (logits[t] != Float.NEGATIVE_INFINITY) allowed++;
        }
        return allowed;
    }

    /**
     * Advances the grammar past {@code token}. Checked first: llama.cpp aborts the process on a
     * token its grammar does not allow, and one more single-token check costs microseconds.
     *
     * @throws IllegalArgumentException when the grammar does not allow {@code token}
     */
    public void accept(int token) {
        if (!allows(token)) throw new IllegalArgumentException("the grammar does not allow token " + token);
        try {
            api.samplerAccept.invoke(sampler, token);
        } catch (Throwable t) {
            throw new IllegalStateException("llama_sampler_accept failed", t);
        }
    }

    @Override
    public void close() {
        try {
            api.samplerFree.invoke(sampler);
        } catch (Throwable t) {
            throw new IllegalStateException("llama_sampler_free failed", t);
        } finally {
            arena.close();
        }
    }

    private MemorySegment array(MemorySegment data, int size) {
        MemorySegment a = arena.allocate(LlamaNative.TOKEN_DATA_ARRAY);
        a.set(ADDRESS, 0, data);
        a.set(JAVA_LONG, 8, size);
        a.set(JAVA_LONG, 16, -1);
        a.set(JAVA_BOOLEAN, 24, false);
        return a;
    }

    private void apply(MemorySegment array) {
        try {
            api.samplerApply.invoke(sampler, array);
        } catch (Throwable t) {
            throw new IllegalStateException("llama_sampler_apply failed", t);
        }
    }
}
