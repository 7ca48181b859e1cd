package dev.tether.inference.embedded.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;

/**
 * One llama.cpp context: a KV cache of {@code cells} token slots shared by up to
 * {@code sequences} sequences, and the batch that feeds it.
 *
 * <p>Not thread-safe: llama.cpp contexts are single-threaded, so one engine thread owns it.
 */
@SuppressWarnings("restricted")
public final class LlamaContext implements AutoCloseable {
    private final LlamaNative api;
    private final MemorySegment ctx;
    private final Arena arena = Arena.ofShared();
    private final int cells;
    private final int vocab;
    private final Batch batch;

    /**
     * @param cells     KV cache size in tokens, shared by all sequences
     * @param sequences how many sequences may be resident at once
     * @param batchSize the most tokens one {@link #decode} takes
     * @param threads   CPU threads for prefill and decode
     */
    public LlamaContext(LlamaModel model, int cells, int sequences, int batchSize, int threads) throws LlamaException {
        this.api = model.api();
        this.vocab = model.vocabSize();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) api.contextDefaultParams.invoke((SegmentAllocator) scratch);
            p.set(JAVA_INT, 0, cells); // n_ctx
            p.set(JAVA_INT, 4, batchSize); // n_batch
            p.set(JAVA_INT, 8, Math.min(batchSize, 512)); // n_ubatch
            p.set(JAVA_INT, 12, sequences); // n_seq_max
            p.set(JAVA_INT, 16, threads); // n_threads
            p.set(JAVA_INT, 20, threads); // n_threads_batch
            p.set(JAVA_FLOAT, 64, 0.1f); // defrag_thold: compact the cache once 10% of it is holes
            api.clearErrors();
            this.ctx = (MemorySegment) api.initFromModel.invoke(model.handle(), p);
            if (ctx.equals(MemorySegment.NULL)) {
                throw new LlamaException(
                        "llama.cpp could not create a context of " + cells + " tokens: " + api.recentErrors());
            }
            this.cells = (int) api.nCtx.invoke(ctx);
        } catch (LlamaException e) {
            throw e;
        } catch (Throwable t) {
            throw new LlamaException("cannot create a llama.cpp context: " + t, t);
        }
        this.batch = new Batch(arena, batchSize);
    }

    /** KV cache size in tokens. */
    public int cells() {
        return cells;
    }

    /** The batch the next {@link #decode} evaluates; cleared after each decode. */
    public Batch batch() {
        return batch;
    }

    /**
     * Evaluates the batch. Returns 0 on success, 1 when the KV cache has no room for it (the
     * caller frees cells and retries), or another code on failure. The batch is cleared.
     */
    public int decode() {
        try {
            return (int) api.decode.invoke(ctx, batch.struct());
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            batch.clear();
        }
    }

    /** Logits of the batch entry {@code index} of the last decode (it must have asked for them). */
    public float[] logits(int index) {
        try {
            MemorySegment p = (MemorySegment) api.logitsIth.invoke(ctx, index);
            return p.reinterpret(4L * vocab).toArray(JAVA_FLOAT);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Drops positions {@code from} and later of sequence {@code seq} (all of it for 0). */
    public void truncate(int seq, int from) {
        call(api.seqRm, ctx, seq, from, -1);
    }

    /** The highest position sequence {@code seq} holds, or -1 if it is empty. */
    public int lastPosition(int seq) {
        return (int) call(api.seqPosMax, ctx, seq);
    }

    /** Compacts the KV cache so freed cells become contiguous. */
    public void defragment() {
        call(api.defrag, ctx);
        call(api.kvUpdate, ctx);
    }

    /** Serialized size of a sequence's KV state. */
    public long stateSize(int seq) {
        return (long) call(api.stateSeqGetSize, ctx, seq);
    }

    /** Copies sequence {@code seq}'s KV state into {@code dst}; returns the bytes written. */
    public long saveState(int seq, MemorySegment dst) {
        return (long) call(api.stateSeqGetData, ctx, dst, dst.byteSize(), seq);
    }

    /** Loads KV state into sequence {@code seq}; returns the bytes read, 0 if llama.cpp refused it. */
    public long loadState(int seq, MemorySegment src) {
        return (long) call(api.stateSeqSetData, ctx, src, src.byteSize(), seq);
    }

    /** What llama.cpp last logged as errors (to explain a refusal). */
    public String recentErrors() {
        return api.recentErrors();
    }

    @Override
    public void close() {
        try {
            api.free.invoke(ctx);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            arena.close();
        }
    }

    /** A reusable native {@code llama_batch} of one sequence id per token. */
    public static final class Batch {
        private final int capacity;
        private final MemorySegment struct;
        private final MemorySegment tokens;
        private final MemorySegment positions;
        private final MemorySegment seqIds;
        private final MemorySegment logits;
        private int size;

        Batch(Arena arena, int capacity) {
            this.capacity = capacity;
            this.struct = arena.allocate(LlamaNative.BATCH);
            this.tokens = arena.allocate(JAVA_INT, capacity);
            this.positions = arena.allocate(JAVA_INT, capacity);
            MemorySegment nSeqId = arena.allocate(JAVA_INT, capacity);
            this.seqIds = arena.allocate(JAVA_INT, capacity);
            MemorySegment seqIdPtrs = arena.allocate(ADDRESS, capacity);
            this.logits = arena.allocate(JAVA_BYTE, capacity);
            for (int i = 0; i < capacity; i++) {
                nSeqId.setAtIndex(JAVA_INT, i, 1);
                seqIdPtrs.setAtIndex(ADDRESS, i, seqIds.asSlice(4L * i, 4));
            }
            struct.set(ADDRESS, 8, tokens);
            struct.set(ADDRESS, 16, MemorySegment.NULL); // embd
            struct.set(ADDRESS, 24, positions);
            struct.set(ADDRESS, 32, nSeqId);
            struct.set(ADDRESS, 40, seqIdPtrs);
            struct.set(ADDRESS, 48, logits);
        }

        /** Adds a token; returns its index in the batch (for {@link LlamaContext#logits}). */
        public int add(int token, int position, int seq, boolean wantLogits) {
            if (size == capacity) throw new IllegalStateException("batch full");
            tokens.setAtIndex(JAVA_INT, size, token);
            positions.setAtIndex(JAVA_INT, size, position);
            seqIds.setAtIndex(JAVA_INT, size, seq);
            logits.set(JAVA_BYTE, size, (byte) (wantLogits ? 1 : 0));
            return size++;
        }

        public int size() {
            return size;
        }

        public int room() {
            return capacity - size;
        }

        void clear() {
            size = 0;
        }

        MemorySegment struct() {
            struct.set(JAVA_INT, 0, size);
            return struct;
        }
    }

    /** Invokes a native function; llama.cpp does not throw, so anything thrown here is a bug. */
    private static Object call(java.lang.invoke.MethodHandle function, Object... args) {
        try {
            return function.invokeWithArguments(args);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
