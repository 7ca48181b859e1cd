package dev.tether.client;

/** An error answer from Tether: the HTTP status (or a WebSocket error frame's), its code and message. */
public final class TetherException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String code;

    public TetherException(int status, String code, String message) {
        super(status + " " + code + ": " + message);
        this.status = status;
        this.code = code;
    }

    /** The HTTP status; 0 when the server could not be reached. */
    public int status() {
        return status;
    }

    /** The error table's code ({@code run_ended}, {@code missing_capability}, …). */
    public String code() {
        return code;
    }
}
