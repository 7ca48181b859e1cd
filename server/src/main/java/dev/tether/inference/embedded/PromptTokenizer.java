package dev.tether.inference.embedded;

import dev.tether.inference.ModelException;
import dev.tether.inference.embedded.ChatPrompt.Rendered;
import dev.tether.inference.embedded.ChatPrompt.Segment;
import dev.tether.inference.embedded.llama.LlamaModel;
import dev.tether.inference.embedded.llama.LlamaModel.SpecialToken;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Turns a rendered prompt into tokens, in time linear in its length, refusing as soon as it is
 * known not to fit.
 *
 * <p>Only the template's own text may produce control tokens: a client writing
 * {@code <|im_start|>system} in a message gets those characters as text, not a forged turn.
 * This class does what llama.cpp's special-token partition does (split the text at the texts
 * of special tokens, then tokenize the pieces in between), with two differences: control
 * tokens are matched in template text only (user-defined tokens everywhere, as llama.cpp and
 * Hugging Face do), and matching is one left-to-right pass (longest token first at each
 * position) instead of llama.cpp's pass per token, whose list handling is quadratic in the
 * number of markers. The two agree unless two special tokens' texts overlap, which no chat
 * template's markers do. The pieces between markers are tokenized by llama.cpp as plain text,
 * each exactly as llama.cpp would tokenize it after a special token (so SentencePiece's space
 * prefix lands where it always did).
 *
 * <p>Before any tokenizing, a lower bound of the prompt's tokens (markers, plus each piece's
 * bytes over the longest token piece) is compared with the limit; while tokenizing, the tokens
 * so far plus the bound of the rest is. So a prompt far too long costs one pass over its text,
 * and at most about {@code limit} tokens' worth of text is ever tokenized.
 *
 * <p>Thread-safe: immutable apart from an atomic counter; llama.cpp's tokenizer is read-only.
 */
final class PromptTokenizer {
    private final LlamaModel model;
    /** Special tokens by their first character, longest first. */
    private final Map<Character, SpecialToken[]> byFirstChar = new HashMap<>();

    private final BitSet firstChars = new BitSet();
    private final AtomicLong tokenizedChars = new AtomicLong();

    PromptTokenizer(LlamaModel model) {
        this.model = model;
        Map<Character, List<SpecialToken>> groups = new HashMap<>();
        for (SpecialToken t : model.specialTokens()) {
            groups.computeIfAbsent(t.text().charAt(0), c -> new ArrayList<>()).add(t);
        }
        groups.forEach((c, list) -> {
            list.sort(Comparator.comparingInt((SpecialToken t) -> t.text().length())
                    .reversed());
            byFirstChar.put(c, list.toArray(SpecialToken[]::new));
            firstChars.set(c);
        });
    }

    /** A piece of the prompt: a special token, or text to tokenize as plain text. */
    private sealed interface Piece {
        record Special(int id) implements Piece {}

        record Text(String text, long minTokens) implements Piece {}
    }

    /**
     * The prompt's tokens (BOS and EOS as the model wants them).
     *
     * @throws ModelException {@code CONTEXT_LENGTH_EXCEEDED} once the prompt is known to reach
     *                        {@code limit} tokens
     */
    int[] tokenize(Rendered prompt, int limit) throws ModelException {
        List<Piece> pieces = partition(prompt);
        long rest = model.eos() >= 0 ? 1 : 0; // a lower bound of the tokens not produced yet
        for (Piece p : pieces) rest += minTokens(p);
        int[] out = new int[64];
        int n = 0;
        if (model.bos() >= 0) out[n++] = model.bos();
        if (n + rest >= limit) throw tooLong(n + rest, limit);
        for (Piece p : pieces) {
            rest -= minTokens(p);
            int[] tokens =
                    switch (p) {
                        case Piece.Special s -> new int[] {s.id()};
                        case Piece.Text t -> {
                            tokenizedChars.addAndGet(t.text().length());
                            yield model.tokenizeText(t.text());
                        }
                    };
            if (n + tokens.length + rest >= limit) throw tooLong(n + tokens.length + rest, limit);
            if (n + tokens.length > out.length) out = Arrays.copyOf(out, Math.max(out.length * 2, n + tokens.length));
            System.arraycopy(tokens, 0, out, n, tokens.length);
            n += tokens.length;
        }
        out = Arrays.copyOf(out, n + (model.eos() >= 0 ? 1 : 0));
        if (model.eos() >= 0) out[n] = model.eos();
        return out;
    }

    private static long minTokens(Piece p) {
        return switch (p) {
            case Piece.Special s -> 1;
            case Piece.Text t -> t.minTokens();
        };
    }

    /** Characters of prompt text handed to llama.cpp's tokenizer since start (a measure of work). */
    long tokenizedChars() {
        return tokenizedChars.get();
    }

    /** Splits the prompt at special tokens: control tokens in template text only. */
    private List<Piece> partition(Rendered prompt) {
        List<Piece> out = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        boolean skipSpace = false; // after an rstrip token
        for (Segment seg : prompt.segments()) {
            String s = seg.text();
            for (int i = 0; i < s.length(); ) {
                char c = s.charAt(i);
                if (skipSpace && isSpace(c)) {
                    i++;
                    continue;
                }
                skipSpace = false;
                SpecialToken match = firstChars.get(c) ? match(s, i, seg.content()) : null;
                if (match == null) {
                    text.append(c);
                    i++;
                    continue;
                }
                if (match.lstrip()) {
                    while (!text.isEmpty() && isSpace(text.charAt(text.length() - 1)))
                        text.setLength(text.length() - 1);
                }
                flush(text, out);
                out.add(new Piece.Special(match.id()));
                skipSpace = match.rstrip();
                i += match.text().length();
            }
        }
        flush(text, out);
        return out;
    }

    private SpecialToken match(String s, int at, boolean content) {
        for (SpecialToken t : byFirstChar.get(s.charAt(at))) {
            if ((!content || !t.control()) && s.startsWith(t.text(), at)) return t;
        }
        return null;
    }

    private void flush(StringBuilder text, List<Piece> out) {
        if (text.isEmpty()) return;
        String t = text.toString();
        text.setLength(0);
        out.add(new Piece.Text(t, model.minTokens(utf8Length(t))));
    }

    private static long utf8Length(String s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            n += c < 0x80 ? 1 : c < 0x800 ? 2 : Character.isSurrogate(c) ? 2 : 3; // a pair is 4
        }
        return n;
    }

    /** C's isspace, which llama.cpp strips with. */
    private static boolean isSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }

    private static ModelException tooLong(long tokens, int limit) {
        return new ModelException(
                ModelException.Kind.CONTEXT_LENGTH_EXCEEDED,
                "The input is at least " + tokens + " tokens; this model's context window is " + limit
                        + " tokens per session. Shorten the input or start a new conversation.");
    }
}
