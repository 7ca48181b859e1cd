package dev.tether.http;

import dev.tether.stream.ContentTypes;
import dev.tether.stream.Pieces;
import dev.tether.stream.ReadResult;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;

/**
 * Sends a catch-up read planned as {@link Pieces}. The plan gives the body's length, so the
 * headers go out with the first piece; then each piece is written while the next one is read. A reader
 * catching up gets its first bytes after one piece instead of after the whole read, the store
 * reads while the socket sends, and the server holds a piece or two, never the whole body.
 *
 * <p>Vert.x's write queue bounds it: the next piece is read while the current one is written, but
 * not written until the queue has room. This is a finite response, not a stream a reader follows,
 * so it needs none of {@link BoundedWriter}'s slow-reader handling: a slow reader holds its two
 * pieces until it reads them or the connection's idle timeout ends it.
 *
 * <p>A failure found before the first piece is written (it cannot be read because its messages
 * were trimmed or deleted since the plan, or a plan of one piece does not add up) is answered with
 * an error status, as a buffered read that failed would be. A later failure resets the connection:
 * after the headers no status can say so, and the client sees a short body and reads again.
 * Confined to the response's event loop.
 */
final class PiecedBody {
    private final HttpServerResponse res;
    private final ReadResult.Data read;
    private final boolean json;
    private final LoopExecutor loop = LoopExecutor.current();
    private final long length;
    /**
     * Body bytes and messages encoded so far. Pieces are read one after another (the next is
     * asked for once this loop has the last), so each piece's sink, on its reading thread,
     * continues the count where the last one left it.
     */
    private long sent;

    private int rows;
    /** The next piece, read (or being read) while the socket has no room for it. */
    private Future<Piece> waiting;

    private PiecedBody(HttpServerResponse res, ReadResult.Data read) {
        this.res = res;
        this.read = read;
        this.json = ContentTypes.isJson(read.stream().contentType());
        // JSON mode (§9.1): '[', the messages with a comma between each two, ']'.
        this.length = read.next() - read.from() + (json ? read.pieces().rows() + 1 : 0);
    }

    /** Sends {@code read} (which has pieces) as the body of {@code res}, whose headers are set. */
    static void send(HttpServerResponse res, ReadResult.Data read) {
        new PiecedBody(res, read).start();
    }

    private void start() {
        // A reader that leaves while the next piece waits for room never drains: release it here.
        res.closeHandler(v -> {
            if (waiting != null) {
                waiting.onSuccess(Piece::release);
                waiting = null;
            }
        });
        next(read(read.from()));
    }

    /** Reads the piece at {@code from}; the stage completes (on this loop) with it encoded. */
    private Future<Piece> read(long from) {
        Piece piece = new Piece();
        return loop.adapt(read.pieces().read(from, piece)).transform(ar -> {
            if (ar.failed()) {
                piece.release();
                return Future.failedFuture(ar.cause());
            }
            piece.end = ar.result();
            return Future.succeededFuture(piece);
        });
    }

    private void next(Future<Piece> piece) {
        piece.onSuccess(this::write).onFailure(t -> ErrorResponses.send(res, t));
    }

    private void write(Piece piece) {
        if (res.closed()) {
            piece.release();
            return; // the reader left: read no more
        }
        boolean last = piece.end == read.next();
        boolean first = sent == 0;
        sent += piece.out.readableBytes();
        if (last) {
            if (json) {
                piece.out.writeByte(']');
                sent++;
            }
            if (sent != length || rows != read.pieces().rows()) {
                piece.release();
                ErrorResponses.send(res, new IllegalStateException("a catch-up read did not match its plan"));
                return;
            }
        }
        if (first) {
            // Only now: a failure before this point gets an error status with a length of its own.
            res.putHeader("Content-Length", Long.toString(length));
        }
        // Read the following piece while this one is being sent.
        Future<Piece> following = last ? null : read(piece.end);
        ByteBuf out = piece.out;
        // Vert.x writes a non-heap buffer as an unreleasable slice, so it stays ours to release.
        Future<Void> written = last ? res.end(BufferInternal.buffer(out)) : res.write(BufferInternal.buffer(out));
        written.onComplete(done -> out.release());
        if (!last) {
            if (res.writeQueueFull()) {
                waiting = following;
                res.drainHandler(v -> {
                    waiting = null;
                    next(following);
                });
            } else {
                next(following);
            }
        }
    }

    /**
     * One piece, encoded on the reading thread straight from the store's read buffer into a pooled
     * direct buffer (one spare byte for JSON's closing bracket), released once written.
     */
    private final class Piece implements Pieces.Sink {
        private ByteBuf out;
        private long end;

        @Override
        public void size(int pieceRows, long bytes) {
            int size = Math.toIntExact(bytes + (json ? pieceRows + 1 : 0));
            out = ByteBufAllocator.DEFAULT.directBuffer(size, size);
        }

        @Override
        public void row(long position, ByteBuffer bytes) {
            if (json) {
                out.writeByte(rows == 0 ? '[' : ',');
            }
            out.writeBytes(bytes);
            rows++;
        }

        void release() {
            if (out != null) {
                out.release();
                out = null;
            }
        }
    }
}
