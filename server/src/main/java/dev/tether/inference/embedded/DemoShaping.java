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

    private DemoShaping(int[] banned, int[] ends) {
        this.banned = banned;
        this.ends = ends;
    }

    static DemoShaping of(LlamaModel model) {
        List<Integer> banned = new ArrayList<>();
        List<Integer> ends = new ArrayList<>();
        for (int t = 0; t < model.vocabSize(); t++) {
            if (model.isEndOfGeneration(t)) {
                ends.add(t);
            } else if (!printable(model.piece(t))) {
                banned.add(t);
            }
        }
        return new DemoShaping(
                banned.stream().mapToInt(Integer::intValue).toArray(),
                ends.stream().mapToInt(Integer::intValue).toArray());
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

    void apply(float[] logits, int generated) {
        for (int t : banned) {
            logits[t] = Float.NEGATIVE_INFINITY;
        }
        float bias = Math.max(0, generated - FREE_TOKENS) * END_BIAS_PER_TOKEN;
        for (int t : ends) {
            logits[t] += bias;
        }
    }
}
