package dev.tether.inference.embedded;

import dev.tether.inference.embedded.llama.LlamaException;
import dev.tether.inference.embedded.llama.LlamaGrammar;
import dev.tether.inference.embedded.llama.LlamaModel;

/**
 * The grammar one answer must follow, if any: from its first token ({@link #always}), or from
 * the token that completes a trigger text ({@link #afterTrigger}), e.g. a tool call's opening tag
 * in an answer that may also be prose. A trigger completed in the middle of a token cannot be
 * handed to the grammar token by token, so that call stays unconstrained.
 *
 * <p>Confined to the engine thread after construction; {@link #close()} frees the grammar.
 */
final class Constraint implements AutoCloseable {
    private final LlamaModel model;
    private final String trigger;
    private final StringBuilder tail;
    /** Compiled up front, so that a grammar llama.cpp refuses fails the request, not the engine step. */
    private LlamaGrammar grammar;
    /** Whether the grammar decides the next token (from the start, or since the trigger). */
    private boolean active;
    /** The trigger was seen mid-token: the grammar can no longer follow the answer. */
    private boolean abandoned;

    private Constraint(LlamaModel model, LlamaGrammar grammar, String trigger) {
        this.model = model;
        this.grammar = grammar;
        this.trigger = trigger;
        this.active = trigger == null;
        this.tail = trigger == null ? null : new StringBuilder();
    }

    static Constraint always(LlamaModel model, String gbnf) throws LlamaException {
        return new Constraint(model, LlamaGrammar.compile(model, gbnf), null);
    }

    /** {@code gbnf} describes what follows {@code trigger}; it waits, fresh, until the trigger. */
    static Constraint afterTrigger(LlamaModel model, String gbnf, String trigger) throws LlamaException {
        return new Constraint(model, LlamaGrammar.compile(model, gbnf), trigger);
    }

    /** Whether the grammar decides the next token. */
    boolean active() {
        return active;
    }

    /** See {@link LlamaGrammar#allows}. */
    boolean allows(int token) {
        return grammar.allows(token);
    }

    /** See {@link LlamaGrammar#constrain}. */
    int constrain(float[] logits) {
        return grammar.constrain(logits);
    }

    /** {@code token} was picked (and, when {@link #active()}, allowed). */
    void picked(int token) {
        if (model.isEndOfGeneration(token)) return;
        if (active) {
            grammar.accept(token);
            return;
        }
        if (tail == null || abandoned) return;
        tail.append(new String(model.piece(token), java.nio.charset.StandardCharsets.UTF_8));
        int at = tail.indexOf(trigger);
        if (at < 0) {
            if (tail.length() > 4 * trigger.length()) tail.delete(0, tail.length() - trigger.length());
        } else if (at + trigger.length() == tail.length()) {
            active = true;
        } else {
            abandoned = true;
        }
    }

    @Override
    public void close() {
        if (grammar != null) {
            grammar.close();
            grammar = null;
        }
    }
}
