package dev.tether.cli;

import dev.tether.inference.embedded.gguf.DemoModel;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;

/** {@code tether model generate --out FILE [--size tiny|small|134m] [--seed N]}. */
final class ModelCommand {
    private ModelCommand() {}

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length < 2 || !args[1].equals("generate")) {
            err.println("tether model: the only subcommand is 'generate'");
            err.println("usage: tether model generate --out FILE [--size tiny|small|134m] [--seed N]");
            return 2;
        }
        Path file = null;
        DemoModel.Size size = DemoModel.Size.SMALL;
        long seed = 42;
        try {
            for (int i = 2; i < args.length; i++) {
                String flag = args[i];
                if (i + 1 >= args.length) throw new IllegalArgumentException(flag + " needs a value");
                String value = args[++i];
                switch (flag) {
                    case "--out" -> file = Path.of(value);
                    case "--size" -> size = DemoModel.Size.parse(value);
                    case "--seed" -> seed = Cli.integer(flag, value);
                    default -> throw new IllegalArgumentException("unknown option '" + flag + "'");
                }
            }
            if (file == null) throw new IllegalArgumentException("--out FILE is required");
        } catch (IllegalArgumentException e) {
            err.println("tether model generate: " + e.getMessage());
            return 2;
        }
        out.printf(
                "generating a %s model (%.1fM parameters, random weights) into %s ...%n",
                size.label(), size.parameters() / 1e6, file);
        out.flush();
        long start = System.nanoTime();
        try {
            long bytes = DemoModel.generate(file, size, seed);
            out.printf(
                    "wrote %s: %.1f MB in %.1f s (its output is random text; never commit model files)%n",
                    file, bytes / 1e6, (System.nanoTime() - start) / 1e9);
            return 0;
        } catch (IOException e) {
            err.println("tether model generate: cannot write " + file + ": " + e.getMessage());
            return 1;
        }
    }
}
