package dev.tether.inference.embedded.llama;

/** The native engine could not load or run; the message is meant for the operator or client. */
public final class LlamaException extends Exception {
    private static final long serialVersionUID = 1L;

    public LlamaException(String message) {
        super(message);
    }

    public LlamaException(String message, Throwable cause) {
        super(message, cause);
    }
}
