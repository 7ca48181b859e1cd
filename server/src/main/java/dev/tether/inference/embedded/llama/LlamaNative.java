package dev.tether.inference.embedded.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.tether.inference.embedded.disk.DurableFile;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Locale;
import java.util.zip.CRC32;

/**
 * Downcall handles into the llama.cpp C API bundled in {@code de.kherud:llama} 4.2.0
 * ({@code libjllama.so}, llama.cpp build b4916). The JNI API of that jar has no way to save or
 * restore one sequence's KV state, so Tether drives the C API directly through FFM.
 *
 * <p>The struct layouts below are those of b4916 and are checked at load time against the
 * library's own defaults ({@link #checkLayout}); a different build fails fast instead of
 * corrupting memory. Loaded once per process; the handles are thread-safe, the objects they
 * act on are not.
 */
@SuppressWarnings("restricted") // FFM into a library we ship; the launcher enables native access
final class LlamaNative {
    private static final System.Logger LOG = System.getLogger("dev.tether.inference.embedded");
    static final String EXPECTED_BUILD = "b4916";

    /** {@code llama_context_params}: 120 bytes in b4916; declared larger, which is harmless by value. */
    static final StructLayout CONTEXT_PARAMS = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(16, JAVA_LONG));
    /** {@code llama_model_params}: 64 bytes in b4916; only its defaults are ever passed back. */
    static final StructLayout MODEL_PARAMS = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(10, JAVA_LONG));
    /** {@code llama_batch}: n_tokens, then token, embd, pos, n_seq_id, seq_id, logits pointers. */
    static final StructLayout BATCH = MemoryLayout.structLayout(
            JAVA_INT, MemoryLayout.paddingLayout(4), ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);

    /** {@code llama_token_data}: id, logit, p. */
    static final StructLayout TOKEN_DATA = MemoryLayout.structLayout(JAVA_INT, JAVA_FLOAT, JAVA_FLOAT);
    /** {@code llama_token_data_array}: data, size, selected, sorted. */
    static final StructLayout TOKEN_DATA_ARRAY =
            MemoryLayout.structLayout(ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_BOOLEAN, MemoryLayout.paddingLayout(7));

    private static LlamaNative instance;

    private final Deque<String> recentErrors = new ArrayDeque<>();
    final String build;
    final MethodHandle modelDefaultParams;
    final MethodHandle modelLoad;
    final MethodHandle modelFree;
    final MethodHandle modelVocab;
    final MethodHandle modelNCtxTrain;
    final MethodHandle modelNEmbd;
    final MethodHandle modelNLayer;
    final MethodHandle modelNHead;
    final MethodHandle modelNHeadKv;
    final MethodHandle modelNParams;
    final MethodHandle modelDesc;
    final MethodHandle modelChatTemplate;
    final MethodHandle chatApplyTemplate;
    final MethodHandle vocabNTokens;
    final MethodHandle vocabIsEog;
    final MethodHandle vocabType;
    final MethodHandle vocabGetAttr;
    final MethodHandle vocabGetText;
    final MethodHandle vocabBos;
    final MethodHandle vocabEos;
    final MethodHandle vocabGetAddBos;
    final MethodHandle vocabGetAddEos;
    final MethodHandle tokenize;
    final MethodHandle tokenToPiece;
    final MethodHandle contextDefaultParams;
    final MethodHandle initFromModel;
    final MethodHandle free;
    final MethodHandle nCtx;
    final MethodHandle decode;
    final MethodHandle logitsIth;
    final MethodHandle seqRm;
    final MethodHandle defrag;
    final MethodHandle seqPosMax;
    final MethodHandle kvUpdate;
    final MethodHandle stateSeqGetSize;
    final MethodHandle stateSeqGetData;
    final MethodHandle stateSeqSetData;
    final MethodHandle samplerInitGrammar;
    final MethodHandle samplerApply;
    final MethodHandle samplerAccept;
    final MethodHandle samplerFree;

    private LlamaNative(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        Binder b = new Binder(lib, linker);
        modelDefaultParams = b.fn("llama_model_default_params", FunctionDescriptor.of(MODEL_PARAMS));
        modelLoad = b.fn("llama_model_load_from_file", FunctionDescriptor.of(ADDRESS, ADDRESS, MODEL_PARAMS));
        modelFree = b.fn("llama_model_free", FunctionDescriptor.ofVoid(ADDRESS));
        modelVocab = b.fn("llama_model_get_vocab", FunctionDescriptor.of(ADDRESS, ADDRESS));
        modelNCtxTrain = b.fn("llama_model_n_ctx_train", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        modelNEmbd = b.fn("llama_model_n_embd", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        modelNLayer = b.fn("llama_model_n_layer", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        modelNHead = b.fn("llama_model_n_head", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        modelNHeadKv = b.fn("llama_model_n_head_kv", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        modelNParams = b.fn("llama_model_n_params", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        modelDesc = b.fn("llama_model_desc", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
        modelChatTemplate = b.fn("llama_model_chat_template", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
        chatApplyTemplate = b.fn(
                "llama_chat_apply_template",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_BOOLEAN, ADDRESS, JAVA_INT));
        vocabNTokens = b.fn("llama_vocab_n_tokens", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        vocabIsEog = b.fn("llama_vocab_is_eog", FunctionDescriptor.of(JAVA_BOOLEAN, ADDRESS, JAVA_INT));
        vocabType = b.fn("llama_vocab_type", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        vocabGetAttr = b.fn("llama_vocab_get_attr", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        vocabGetText = b.fn("llama_vocab_get_text", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        vocabBos = b.fn("llama_vocab_bos", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        vocabEos = b.fn("llama_vocab_eos", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        vocabGetAddBos = b.fn("llama_vocab_get_add_bos", FunctionDescriptor.of(JAVA_BOOLEAN, ADDRESS));
        vocabGetAddEos = b.fn("llama_vocab_get_add_eos", FunctionDescriptor.of(JAVA_BOOLEAN, ADDRESS));
        tokenize = b.fn(
                "llama_tokenize",
                FunctionDescriptor.of(
                        JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_BOOLEAN, JAVA_BOOLEAN));
        tokenToPiece = b.fn(
                "llama_token_to_piece",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_BOOLEAN));
        contextDefaultParams = b.fn("llama_context_default_params", FunctionDescriptor.of(CONTEXT_PARAMS));
        initFromModel = b.fn("llama_init_from_model", FunctionDescriptor.of(ADDRESS, ADDRESS, CONTEXT_PARAMS));
        free = b.fn("llama_free", FunctionDescriptor.ofVoid(ADDRESS));
        nCtx = b.fn("llama_n_ctx", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        decode = b.fn("llama_decode", FunctionDescriptor.of(JAVA_INT, ADDRESS, BATCH));
        logitsIth = b.fn("llama_get_logits_ith", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        seqRm = b.fn(
                "llama_kv_self_seq_rm", FunctionDescriptor.of(JAVA_BOOLEAN, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT));
        defrag = b.fn("llama_kv_self_defrag", FunctionDescriptor.ofVoid(ADDRESS));
        seqPosMax = b.fn("llama_kv_self_seq_pos_max", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        kvUpdate = b.fn("llama_kv_self_update", FunctionDescriptor.ofVoid(ADDRESS));
        stateSeqGetSize = b.fn("llama_state_seq_get_size", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT));
        stateSeqGetData = b.fn(
                "llama_state_seq_get_data", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT));
        stateSeqSetData = b.fn(
                "llama_state_seq_set_data", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT));
        samplerInitGrammar =
                b.fn("llama_sampler_init_grammar", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        samplerApply = b.fn("llama_sampler_apply", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
        samplerAccept = b.fn("llama_sampler_accept", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT));
        samplerFree = b.fn("llama_sampler_free", FunctionDescriptor.ofVoid(ADDRESS));
        build = "b"
                + lib.find("LLAMA_BUILD_NUMBER").orElseThrow().reinterpret(4).get(JAVA_INT, 0);
        installLogger(b, linker);
        try {
            b.fn("llama_backend_init", FunctionDescriptor.ofVoid()).invoke();
        } catch (Throwable t) {
            throw new IllegalStateException("llama_backend_init failed", t);
        }
        checkLayout();
    }

    /** Loads the library once per process (extracting it from the jar on first use). */
    static synchronized LlamaNative get() throws LlamaException {
        if (instance == null) {
            Path lib = NativeLibrary.locate();
            instance = new LlamaNative(SymbolLookup.libraryLookup(lib, Arena.global()));
            LOG.log(System.Logger.Level.DEBUG, "llama.cpp {0} loaded from {1}", instance.build, lib);
        }
        return instance;
    }

    /** The last error lines llama.cpp logged, oldest first (for error messages). */
    synchronized String recentErrors() {
        return String.join(" ", recentErrors).strip();
    }

    synchronized void clearErrors() {
        recentErrors.clear();
    }

    private void checkLayout() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) contextDefaultParams.invoke((SegmentAllocator) arena);
            boolean ok = p.get(JAVA_INT, 0) == 512 // n_ctx
                    && p.get(JAVA_INT, 4) == 2048 // n_batch
                    && p.get(JAVA_INT, 8) == 512 // n_ubatch
                    && p.get(JAVA_INT, 12) == 1 // n_seq_max
                    && p.get(JAVA_INT, 88) == 1 // type_k = F16
                    && p.get(JAVA_INT, 92) == 1 // type_v = F16
                    && p.get(JAVA_BOOLEAN, 98) // offload_kqv
                    && !p.get(JAVA_BOOLEAN, 99); // flash_attn
            if (!ok || !EXPECTED_BUILD.equals(build)) {
                throw new IllegalStateException("the bundled llama.cpp (" + build + ") does not have the "
                        + EXPECTED_BUILD + " struct layout Tether was written for; pin de.kherud:llama 4.2.0");
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    // ggml_log_callback: void (*)(enum ggml_log_level level, const char * text, void * user_data)
    private void installLogger(Binder b, Linker linker) {
        try {
            MethodHandle target = MethodHandles.lookup()
                    .findVirtual(
                            LlamaNative.class,
                            "onLog",
                            MethodType.methodType(void.class, int.class, MemorySegment.class, MemorySegment.class))
                    .bindTo(this);
            MemorySegment stub =
                    linker.upcallStub(target, FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS), Arena.global());
            b.fn("llama_log_set", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS)).invoke(stub, MemorySegment.NULL);
        } catch (Throwable t) {
            throw new IllegalStateException("cannot install the llama.cpp log callback", t);
        }
    }

    /** Called by llama.cpp on any thread; must never throw. Warnings and errors go to our log. */
    @SuppressWarnings("unused")
    private void onLog(int level, MemorySegment text, MemorySegment userData) {
        try {
            if (level < 3 || level > 4) return; // debug, info and continuation lines are noise here
            String line = text.reinterpret(Integer.MAX_VALUE).getString(0).strip();
            if (line.isEmpty()) return;
            if (level == 4) {
                synchronized (this) {
                    recentErrors.addLast(line);
                    if (recentErrors.size() > 4) recentErrors.removeFirst();
                }
            }
            LOG.log(level == 4 ? System.Logger.Level.ERROR : System.Logger.Level.DEBUG, "llama.cpp: {0}", line);
        } catch (Throwable ignored) {
            // an exception escaping an upcall would crash the JVM
        }
    }

    private record Binder(SymbolLookup lib, Linker linker) {
        MethodHandle fn(String name, FunctionDescriptor fd) {
            MemorySegment symbol =
                    lib.find(name).orElseThrow(() -> new IllegalStateException("llama.cpp symbol missing: " + name));
            return linker.downcallHandle(symbol, fd);
        }
    }

    /** Finds or extracts the native library for this platform. */
    static final class NativeLibrary {
        private NativeLibrary() {}

        static Path locate() throws LlamaException {
            String override = System.getProperty("tether.llama.lib");
            if (override != null) return Path.of(override);
            String resource = resource();
            try (InputStream in = LlamaNative.class.getResourceAsStream(resource)) {
                if (in == null) {
                    throw new LlamaException("the de.kherud:llama jar has no native library at " + resource);
                }
                byte[] bytes = in.readAllBytes();
                CRC32 crc = new CRC32();
                crc.update(bytes);
                Path dir = Path.of(
                        System.getProperty("java.io.tmpdir"), "tether-llama-" + Long.toHexString(crc.getValue()));
                Path lib = dir.resolve(Path.of(resource).getFileName().toString());
                // Reuse an extracted copy only if it is byte for byte the one in the jar.
                if (Files.isRegularFile(lib)
                        && Files.size(lib) == bytes.length
                        && Arrays.equals(Files.readAllBytes(lib), bytes)) {
                    return lib;
                }
                DurableFile.FSYNC.replace(lib, ch -> {
                    ByteBuffer buf = ByteBuffer.wrap(bytes);
                    while (buf.hasRemaining()) ch.write(buf);
                });
                return lib;
            } catch (IOException e) {
                throw new LlamaException("cannot extract the llama.cpp native library: " + e.getMessage(), e);
            }
        }

        private static String resource() throws LlamaException {
            String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
            String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
            String dir = os.contains("linux") ? "Linux" : os.contains("mac") ? "Mac" : null;
            String cpu = arch.equals("amd64") || arch.equals("x86_64")
                    ? "x86_64"
                    : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : null;
            if (dir == null || cpu == null) {
                throw new LlamaException("the embedded engine runs on Linux and macOS (x86_64, aarch64); this is " + os
                        + " " + arch + ": use --upstream instead");
            }
            return "/de/kherud/llama/" + dir + "/" + cpu + "/libjllama." + (dir.equals("Mac") ? "dylib" : "so");
        }
    }
}
