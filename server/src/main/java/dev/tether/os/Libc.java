package dev.tether.os;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * The Linux C library's functions that tune this process's own threads (their scheduling policy,
 * their nice value, their time slice), looked up through FFM. Everything here is a hint: where a function is
 * missing, on another OS, or when the lookup fails, callers get null and change nothing.
 *
 * <p>Thread-safety: stateless.
 */
@SuppressWarnings("restricted") // libc calls on this process's own threads; the launcher enables native access
public final class Libc {
    private static final System.Logger LOG = System.getLogger(Libc.class.getName());

    private Libc() {}

    /**
     * A handle on the Linux libc function {@code name} with {@code signature} (and the linker's
     * {@code options}, e.g. where a variadic function's variable arguments start), or null.
     */
    public static MethodHandle linux(String name, FunctionDescriptor signature, Linker.Option... options) {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")) {
            return null;
        }
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup()
                    .find(name)
                    .map(f -> linker.downcallHandle(f, signature, options))
                    .orElse(null);
        } catch (RuntimeException | LinkageError e) {
            LOG.log(System.Logger.Level.DEBUG, name + " unavailable: " + e);
            return null;
        }
    }
}
