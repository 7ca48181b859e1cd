package dev.tether.inference.embedded;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy at temperature 0, otherwise softmax at the given
 * temperature restricted to the top-p nucleus; within a grammar when the answer has one.
 *
 * <p>Not thread-safe (it owns a random generator); one per turn, closed when the turn ends.
 */
final class Sampler implements AutoCloseable {
    /** What {@link #sample(float[], int)} returns when the grammar allows no token at all. */
    static final int NO_TOKEN = -1;

    private final double temperature;
    private final double topP;
    private final SplittableRandom random;

    /** Null, or the demo model's shaping of the logits before each pick. */
    private final DemoShaping shaping;

    /** Null, or the grammar the answer must follow. */
    private final Constraint constraint;

    /** The logits the last token was drawn from (shaped and masked), for its log-probability. */
    private float[] sampledFrom;

    Sampler(double temperature, double topP, long seed) {
        this(temperature, topP, seed, null, null);
    }

    Sampler(double temperature, double topP, long seed, DemoShaping shaping, Constraint constraint) {
        this.shaping = shaping;
        this.constraint = constraint;
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

    /**
     * The next token, {@code generated} tokens into the answer, or {@link #NO_TOKEN}. Under a
     * grammar the token is first picked freely and kept if the grammar allows it; only otherwise
     * is the whole vocabulary masked (llama.cpp's common sampler does the same: most picks of a
     * model that follows the format are allowed, and a full mask costs a pass over the vocabulary).
     */
    int sample(float[] logits, int generated) {
        boolean constrained = constraint != null && constraint.active();
        float[] raw = constrained && shaping != null ? logits.clone() : null;
        if (shaping != null) {
            shaping.apply(logits, generated, constrained);
        }
        int token = sample(logits);
        if (constrained && !constraint.allows(token)) {
            if (constraint.constrain(logits) == 0) {
                // The demo shaping banned all the grammar allows (say, the bytes of a non-ASCII
                // enum value): the grammar wins.
                if (raw == null || constraint.constrain(raw) == 0) return NO_TOKEN;
                logits = raw;
            }
            token = sample(logits);
        }
        sampledFrom = logits;
        if (constraint != null) constraint.picked(token);
        return token;
    }

    /** The logits {@link #sample(float[], int)} last drew from (after shaping and any mask). */
    float[] sampledFrom() {
        return sampledFrom;
    }

    /** Frees the grammar; idempotent. Called on the engine thread, which is the one using it. */
    @Override
    public void close() {
        if (constraint != null) constraint.close();
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
