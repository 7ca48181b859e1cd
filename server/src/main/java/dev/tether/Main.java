package dev.tether;

import dev.tether.cli.Cli;

/** Entry point of the {@code tether} command; see {@link Cli}. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        Cli.main(args);
    }
}
