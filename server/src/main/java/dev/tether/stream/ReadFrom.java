package dev.tether.stream;

import java.util.Objects;

/** Where a read starts (Durable Streams §6): the stream's start ({@code -1}), its tail ({@code now}), or an offset. */
public sealed interface ReadFrom permits ReadFrom.Start, ReadFrom.Tail, ReadFrom.At {
    ReadFrom START = new Start();
    ReadFrom TAIL = new Tail();

    /** The lowest readable position. */
    record Start() implements ReadFrom {}

    /** The tail: only what is appended from now on. */
    record Tail() implements ReadFrom {}

    /** An offset the server issued, for this stream or (below the fork point) one it was forked from. */
    record At(Offset offset) implements ReadFrom {
        public At {
            Objects.requireNonNull(offset, "offset");
        }
    }
}
