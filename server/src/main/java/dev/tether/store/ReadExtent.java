package dev.tether.store;

/**
 * What a {@link StreamStore#read} would return, without the bytes: its rows start at
 * {@code first}, end at {@code end}, and there are {@code rows} of them.
 */
public record ReadExtent(long first, long end, int rows) {
    public ReadExtent {
        if (first < 0 || end < first || rows < 1) {
            throw new IllegalArgumentException("bad extent " + first + ".." + end + " of " + rows + " rows");
        }
    }
}
