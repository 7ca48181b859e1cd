package dev.tether.inference;

/**
 * Receives one assistant turn as it is generated. Calls arrive in order and one at a time, each
 * happening-before the next and before {@link ModelBackend#generate} returns; they may come from
 * a thread other than the caller's (an upstream's answer is handed on from the transport's event
 * loop), so a sink neither blocks nor relies on the calling thread. Tool calls are numbered from
 * 0 in the order the model started them.
 */
public interface ModelSink {

    /**
     * The request is under way: the upstream has it, or the engine has queued the turn. What the
     * caller does from here on overlaps the model's own work, so a backend calls this as soon as it
     * can, before it waits for the first token. It may come more than once (a retried upstream)
     * or not at all; only the first call counts.
     */
    default void sent() {}

    /** A fragment of the assistant's text. */
    void text(String delta);

    /** The model started tool call {@code index}. */
    void toolCall(int index, String callId, String name);

    /** A fragment of tool call {@code index}'s JSON arguments. */
    void toolArguments(int index, String delta);

    /**
     * Log-probabilities of the tokens whose text comes in the next {@link #text} calls; only
     * when the request asked for them ({@link ModelRequest#topLogprobs}) and the backend can.
     */
    default void logprobs(java.util.List<TokenLogprob> tokens) {}

    /**
     * The answer is complete, and {@code result} is what {@link ModelBackend#generate} will
     * return. A backend that knows it before it can return (an upstream's stream ends on the
     * transport's thread, and the caller's thread has yet to wake) says so there, after the last
     * fragment, so that the sink can end the turn without waiting for that wake-up. At most once,
     * and never for an answer that fails.
     */
    default void answered(ModelResult result) {}
}
