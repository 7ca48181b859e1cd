package dev.tether.inference.embedded;

import dev.tether.inference.TokenLogprob;
import dev.tether.inference.embedded.llama.LlamaModel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Log-probabilities of a sampled token and its most likely alternatives, from the logits it was
 * drawn from: after the demo shaping and any grammar mask, at temperature 1 (what the model
 * would say of the token, whatever temperature picked it).
 *
 * <p>Stateless.
 */
final class Logprobs {
    private Logprobs() {}

    static TokenLogprob of(float[] logits, int token, int top, LlamaModel model) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double sum = 0;
        for (float l : logits) sum += Math.exp(l - max);
        double logZ = max + Math.log(sum);
        List<TokenLogprob> alternatives = new ArrayList<>(top);
        for (int t : best(logits, top)) alternatives.add(entry(model, t, logits[t] - logZ, List.of()));
        return entry(model, token, logits[token] - logZ, alternatives);
    }

    private static TokenLogprob entry(LlamaModel model, int token, double logprob, List<TokenLogprob> top) {
        byte[] bytes = model.piece(token);
        // -inf (a token the grammar ruled out) has no JSON number: the lowest double stands in.
        double finite = Double.isFinite(logprob) ? logprob : -Double.MAX_VALUE;
        return new TokenLogprob(new String(bytes, StandardCharsets.UTF_8), finite, bytes, top);
    }

    /** The {@code k} highest logits' tokens, highest first (k is at most 20: a selection pass each). */
    private static int[] best(float[] logits, int k) {
        int n = Math.min(k, logits.length);
        int[] out = new int[n];
        boolean[] taken = new boolean[logits.length];
        for (int i = 0; i < n; i++) {
            int arg = -1;
            for (int t = 0; t < logits.length; t++) {
                if (!taken[t] && (arg < 0 || logits[t] > logits[arg])) arg = t;
            }
            taken[arg] = true;
            out[i] = arg;
        }
        return out;
    }
}
