package dev.tether.responses;

/**
 * Receives a response's events in sequence order, each exactly once, then the end. Called on
 * whatever thread made the event visible (a generating or engine thread): implementations hand
 * the bytes to their own thread and return at once.
 */
public interface ResponseListener {

    /** Event {@code sequence} of type {@code type}; {@code json} is the complete event object. */
    void onEvent(int sequence, String type, byte[] json);

    /** The terminal event has been delivered (or the response is gone): nothing more will come. */
    void onEnd();
}
