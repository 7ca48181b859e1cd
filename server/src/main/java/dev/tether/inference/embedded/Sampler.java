package dev.tether.inference.embedded;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy at temperature 0, otherwise softmax at the given
 * temperature restricted to the top-p nucleus.
 *
 * <p>Not thread-safe (it owns a random generator); one per turn.
 */
final class Sampler {
    private final double temperature;
    private final double topP;
    private final SplittableRandom random;

    /** Null, or the demo model's shaping of the logits before each pick. */
    private final DemoShaping shaping;

    Sampler(double temperature, double topP, long seed) {
        this(temperature, topP, seed, null);
    }

    Sampler(double temperature, double topP, long seed, DemoShaping shaping) {
        this.shaping = shaping;
        if (temperature < 0 || Double.isNaN(temperature)) throw new IllegalArgumentException("temperature < 0");
        if (!(topP >= 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in [0, 1]");
        this.temperature = temperature;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
    }

    /** Temperature 0 or top_p 0 (a nucleus of one token) both mean: take the most likely token. */
    boolean greedy() {
        return temperature == 0 || topP == 0;
    }

    /** The next token, {@code generated} tokens into the answer. */
    int sample(float[] logits, int generated) {
        if (shaping != null) {
            shaping.apply(logits, generated);
        }
        return sample(logits);
    }

    int sample(float[] logits) {
        if (greedy()) return argmax(logits);
        double max = logits[argmax(logits)];
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            p[i] = Math.exp((logits[i] - max) / temperature);
            sum += p[i];
        }
        if (!Double.isFinite(sum) || sum <= 0) return argmax(logits); // NaN or infinite logits
        return topP < 1 ? nucleus(p, sum) : pick(p, sum);
    }

    private int pick(double[] p, double sum) {
        double r = random.nextDouble() * sum;
        for (int i = 0; i < p.length; i++) {
            r -= p[i];
            if (r <= 0) return i;
        }
        return p.length - 1;
    }

    private int nucleus(double[] p, double sum) {
        Integer[] order = new Integer[p.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        double kept = 0;
        int n = 0;
        while (n < order.length && (n == 0 || kept < topP * sum)) kept += p[order[n++]];
        double r = random.nextDouble() * kept;
        for (int i = 0; i < n; i++) {
            r -= p[order[i]];
            if (r <= 0) return order[i];
        }
        return order[n - 1];
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) best = i;
        }
        return best;
    }
}
