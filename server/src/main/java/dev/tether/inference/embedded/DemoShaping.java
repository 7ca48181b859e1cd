package dev.tether.inference.embedded;

import dev.tether.inference.embedded.llama.LlamaModel;
import java.util.ArrayList;
import java.util.List;

/**
 * What makes the random-weight demo model's answers usable by clients that expect a finished
 * answer of valid text (the Python SDK's {@code get_final_response()} raises on an
 * {@code incomplete} one): tokens whose text is a control character, a lone byte or no text at
 * all are never sampled, and the end-of-turn tokens get a bias that grows with every token
 * after the first {@link #FREE_TOKENS}, so an answer ends by itself, typically within a few dozen
 * tokens. Real models are never shaped.
 *
 * <p>Immutable and thread-safe.
 */
final class DemoShaping {
    /** Tokens generated before the end-of-turn bias starts to grow. */
    static final int FREE_TOKENS = 8;
    /** Logit added to each end-of-turn token per token generated beyond {@link #FREE_TOKENS}. */
    static final float END_BIAS_PER_TOKEN = 0.5f;

    private final int[] banned;
    private final int[] ends;
    private final int[] closers;

    private DemoShaping(int[] banned, int[] ends, int[] closers) {
        this.banned = banned;
        this.ends = ends;
        this.closers = closers;
    }

    static DemoShaping of(LlamaModel model) {
        List<Integer> banned = new ArrayList<>();
        List<Integer> ends = new ArrayList<>();
        List<Integer> closers = new ArrayList<>();
        for (int t = 0; t < model.vocabSize(); t++) {
            byte[] piece = model.piece(t);
            if (model.isEndOfGeneration(t)) {
                ends.add(t);
            } else if (!printable(piece)) {
                banned.add(t);
            } else if (piece.length == 1 && (piece[0] == '"' || piece[0] == '}' || piece[0] == ']')) {
                closers.add(t);
            }
        }
        return new DemoShaping(ints(banned), ints(ends), ints(closers));
    }

    private static int[] ints(List<Integer> list) {
        return list.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Non-empty text of printable ASCII (the demo vocabulary's words and punctuation). */
    static boolean printable(byte[] piece) {
        if (piece.length == 0) {
            return false;
        }
        for (byte b : piece) {
            if (b < 0x20 || b > 0x7e) {
                return false;
            }
        }
        return true;
    }

    /**
     * Shapes the logits {@code generated} tokens into the answer. Under a grammar
     * ({@code constrained}), where the end of turn only comes once the JSON is whole, the tokens
     * that close a string, an object or an array get the same growing bias, so the random model
     * finishes its JSON instead of writing one string until the output limit.
     */
    void apply(float[] logits, int generated, boolean constrained) {
        for (int t : banned) {
            logits[t] = Float.NEGATIVE_INFINITY;
        }
        float bias = Math.max(0, generated - FREE_TOKENS) * END_BIAS_PER_TOKEN;
        for (int t : ends) {
            logits[t] += bias;
        }
        if (constrained) {
            for (int t : closers) {
                logits[t] += bias;
            }
        }
    }
}
