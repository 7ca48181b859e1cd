package dev.tether.fuzz;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;

/**
 * Buffered socket input where every read honours one absolute deadline (a read past it throws
 * {@link SocketTimeoutException}), so no server behaviour can stall the fuzzer.
 *
 * <p>Not thread-safe; owned by the thread reading one connection.
 */
final class WireInput {
    private final Socket socket;
    private final InputStream in;
    private long deadline;
    private final byte[] buf = new byte[16 * 1024];
    private int pos;
    private int lim;
    int total;
    /** The head of an answer whose body is still being read (to say what a timeout interrupted). */
    RawHttp.Answer pendingHead;

    WireInput(Socket socket, long deadlineNanos) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.deadline = deadlineNanos;
    }

    /** Moves the deadline (a WebSocket session gives each step its own). */
    void deadline(long nanos) {
        deadline = nanos;
    }

    int read() throws IOException {
        if (pos == lim && !fill()) {
            return -1;
        }
        return buf[pos++] & 0xff;
    }

    private boolean fill() throws IOException {
        long left = (deadline - System.nanoTime()) / 1_000_000L;
        if (left <= 0) {
            throw new SocketTimeoutException("deadline");
        }
        socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, left)));
        int n = in.read(buf, 0, buf.length);
        if (n < 0) {
            return false;
        }
        pos = 0;
        lim = n;
        total += n;
        return true;
    }

    /** A line without its CR LF (a bare LF ends one too); null at end of stream before any byte. */
    String line(int max) throws IOException {
        StringBuilder sb = new StringBuilder();
        int b;
        while ((b = read()) >= 0) {
            if (b == '\n') {
                int len = sb.length();
                if (len > 0 && sb.charAt(len - 1) == '\r') {
                    sb.setLength(len - 1);
                }
                return sb.toString();
            }
            if (sb.length() >= max) {
                throw new Malformed("a line longer than " + max + " bytes");
            }
            sb.append((char) b);
        }
        if (sb.isEmpty()) {
            return null;
        }
        throw new IOException("connection closed inside a line");
    }

    byte[] bytes(int n) throws IOException {
        byte[] out = new byte[n];
        int off = 0;
        while (off < n) {
            if (pos == lim && !fill()) {
                throw new IOException("connection closed after " + off + " of " + n + " body bytes");
            }
            int k = Math.min(n - off, lim - pos);
            System.arraycopy(buf, pos, out, off, k);
            pos += k;
            off += k;
        }
        return out;
    }

    /** A response that is not HTTP/1.x. */
    static final class Malformed extends IOException {
        private static final long serialVersionUID = 1L;

        Malformed(String message) {
            super(message);
        }
    }
}
