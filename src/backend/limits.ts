/**
 * Limits of the backends that option checks need without loading a backend (this module imports
 * nothing, so the CLI's flag parsers can use it at start-up).
 */

/** Most wasm threads: the threaded build pre-spawns 8 pthread workers and tfjs caps its pool at 8. */
export const MAX_WASM_THREADS = 8;
