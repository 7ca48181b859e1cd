package dev.tether.fuzz;

import dev.tether.fuzz.FuzzCase.Header;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A deliberately minimal HTTP/1.1 client on a plain socket: it sends exactly the bytes it is
 * given (no client library would send a bad escape, a duplicated header or a broken chunk size)
 * and parses what comes back under one deadline. Requests are written from a virtual thread
 * while this thread reads, so a server that answers before reading the whole body (413) cannot
 * deadlock the exchange.
 *
 * <p>Not thread-safe; each {@link #exchange} call owns its connection.
 */
final class RawHttp {
    static final int MAX_BODY = 32 << 20;

    private RawHttp() {}

    /** How a body with {@code Content-Type: text/event-stream} is read. */
    enum SsePolicy {
        /** Until the server ends it (a Responses event stream must end by itself). */
        TO_END,
        /** Until the first complete event, then the client hangs up (a Durable Streams live read). */
        FIRST_EVENT
    }

    /** One response. {@code cut} when the client stopped reading an event stream on purpose. */
    record Answer(String version, int status, List<Header> headers, byte[] body, boolean cut) {
        String header(String name) {
            for (Header h : headers) {
                if (h.name().equalsIgnoreCase(name)) {
                    return h.value();
                }
            }
            return null;
        }

        String contentType() {
            String v = header("Content-Type");
            return v == null ? "" : v.toLowerCase(Locale.ROOT);
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder();
            if (!version.equals("HTTP/1.1")) {
                sb.append(version).append(' ');
            }
            sb.append(status);
            String type = header("Content-Type");
            if (type != null) {
                sb.append(" [").append(type).append(']');
            }
            String retry = header("Retry-After");
            if (retry != null) {
                sb.append(" [Retry-After: ").append(retry).append(']');
            }
            sb.append(' ').append(body.length == 0 ? "(empty body)" : Text.excerpt(body, 300));
            return sb.append(cut ? " (cut by the client)" : "").toString();
        }
    }

    /** How the exchange ended, beyond the answers it produced. */
    enum Ending {
        /** Every wanted answer arrived. */
        COMPLETE,
        /** The server closed (or reset) the connection before all wanted answers. */
        CLOSED,
        /** The deadline passed first. */
        TIMED_OUT,
        /** Bytes came back that are not an HTTP/1.x response. */
        MALFORMED
    }

    record Exchange(List<Answer> answers, Ending ending, String note, int bytesReceived, long millis) {
        Answer first() {
            return answers.isEmpty() ? null : answers.getFirst();
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder();
            for (Answer a : answers) {
                sb.append(sb.isEmpty() ? "" : " | ").append(a);
            }
            if (ending != Ending.COMPLETE) {
                sb.append(sb.isEmpty() ? "" : " then ")
                        .append(
                                switch (ending) {
                                    case CLOSED -> "connection closed";
                                    case TIMED_OUT -> "no complete answer within " + millis + " ms";
                                    case MALFORMED -> "a malformed response";
                                    case COMPLETE -> "";
                                });
                if (note != null) {
                    sb.append(" (").append(note).append(')');
                }
            }
            return sb.toString();
        }
    }

    /** Builds the bytes of a well-framed request: the case's headers, Host, optional auth, Content-Length. */
    static byte[] request(FuzzCase.Http c, String hostHeader, String token) {
        StringBuilder head = new StringBuilder();
        head.append(c.method()).append(' ').append(c.target()).append(" HTTP/1.1\r\n");
        if (c.header("Host") == null) {
            head.append("Host: ").append(hostHeader).append("\r\n");
        }
        if (c.withAuth() && token != null && c.header("Authorization") == null) {
            head.append("Authorization: Bearer ").append(token).append("\r\n");
        }
        for (Header h : c.headers()) {
            head.append(h.name()).append(": ").append(h.value()).append("\r\n");
        }
        boolean bodyMethod = c.method().equals("PUT") || c.method().equals("POST");
        if (c.body().length > 0 || bodyMethod) {
            head.append("Content-Length: ").append(c.body().length).append("\r\n");
        }
        head.append("\r\n");
        byte[] h = Text.latin1(head.toString());
        byte[] out = new byte[h.length + c.body().length];
        System.arraycopy(h, 0, out, 0, h.length);
        System.arraycopy(c.body(), 0, out, h.length, c.body().length);
        return out;
    }

    /**
     * Connects, writes {@code request}, and reads until {@code wanted} answers arrived, the
     * server closed, or {@code deadlineMillis} passed.
     *
     * @param methods the method of each pipelined request, to know which answers have no body (HEAD)
     * @param wanted  answers to wait for; 0 means "any bytes or a close will do"
     */
    static Exchange exchange(
            String host,
            int port,
            byte[] request,
            boolean halfClose,
            List<String> methods,
            int wanted,
            long deadlineMillis,
            SsePolicy sse) {
        long start = System.nanoTime();
        long deadline = start + deadlineMillis * 1_000_000L;
        List<Answer> answers = new ArrayList<>();
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), (int) Math.max(1, deadlineMillis));
            socket.setTcpNoDelay(true);
            Thread writer = Thread.ofVirtual().start(() -> write(socket, request, halfClose));
            WireInput in = new WireInput(socket, deadline);
            try {
                if (wanted == 0) {
                    int b = in.read();
                    return done(answers, b < 0 ? Ending.CLOSED : Ending.COMPLETE, null, in, start);
                }
                while (answers.size() < wanted) {
                    String method = methods.get(Math.min(answers.size(), methods.size() - 1));
                    Answer a = HttpAnswers.readAnswer(in, method, sse);
                    if (a == null) {
                        return done(answers, Ending.CLOSED, null, in, start);
                    }
                    answers.add(a);
                    if (a.status() == 101) {
                        break;
                    }
                }
                return done(answers, Ending.COMPLETE, null, in, start);
            } catch (SocketTimeoutException e) {
                String note = in.pendingHead == null
                        ? null
                        : "the body of '" + in.pendingHead.version() + " " + in.pendingHead.status() + " "
                                + in.pendingHead.headers() + "' never ended";
                return done(answers, Ending.TIMED_OUT, note, in, start);
            } catch (WireInput.Malformed e) {
                return done(answers, Ending.MALFORMED, e.getMessage(), in, start);
            } catch (IOException e) {
                return done(answers, Ending.CLOSED, e.getMessage(), in, start);
            } finally {
                writer.interrupt();
            }
        } catch (IOException e) {
            return new Exchange(answers, Ending.CLOSED, "connect: " + e.getMessage(), 0, elapsed(start));
        }
    }

    private static Exchange done(List<Answer> answers, Ending ending, String note, WireInput in, long start) {
        return new Exchange(List.copyOf(answers), ending, note, in.total, elapsed(start));
    }

    private static long elapsed(long start) {
        return (System.nanoTime() - start) / 1_000_000L;
    }

    private static void write(Socket socket, byte[] bytes, boolean halfClose) {
        try {
            OutputStream out = socket.getOutputStream();
            for (int off = 0; off < bytes.length; off += 64 * 1024) {
                out.write(bytes, off, Math.min(64 * 1024, bytes.length - off));
            }
            out.flush();
            if (halfClose) {
                socket.shutdownOutput();
            }
        } catch (IOException e) {
            // the server answered or closed early; the reader reports what it got
        }
    }
}
