package dev.tether.inference;

import java.util.List;
import java.util.Objects;

/**
 * One generated token with its log-probability, as Responses {@code logprobs} entries carry it.
 *
 * @param token   the token's text (a token that is part of a multi-byte character shows U+FFFD)
 * @param logprob natural log of its probability
 * @param bytes   the token's UTF-8 bytes
 * @param top     the most likely alternatives at that position, most likely first (empty when none
 *                were asked for, and always empty in the alternatives themselves)
 */
public record TokenLogprob(String token, double logprob, byte[] bytes, List<TokenLogprob> top) {
    public TokenLogprob {
        Objects.requireNonNull(token, "token");
        Objects.requireNonNull(bytes, "bytes");
        top = List.copyOf(top);
    }
}
