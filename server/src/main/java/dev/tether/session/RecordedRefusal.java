package dev.tether.session;

import dev.tether.errors.Refusal;
import java.util.concurrent.CompletionStage;

/**
 * A refusal whose reason was written to the log first (a rejected signal, a message refused by
 * the multitask policy): the caller is answered once that entry is durable, so a client that got
 * the 409 finds the rejection in the log.
 */
final class RecordedRefusal extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The answer to send. */
    final transient Refusal refusal;
    /** Completes once the entry recording it is durable. */
    final transient CompletionStage<Void> written;

    RecordedRefusal(Refusal refusal, CompletionStage<Void> written) {
        super(refusal.getMessage(), null, false, false);
        this.refusal = refusal;
        this.written = written;
    }
}
