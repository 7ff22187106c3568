/** The replication core: what the server's driver (transport, timers, disk) uses. */
export { RaftNode } from "./node.ts";
export type { NodeOptions } from "./options.ts";
export { bootstrapState, freshState, MemoryStorage, type RaftStorage } from "./storage.ts";
export { Prng } from "./prng.ts";
export * from "./types.ts";
