/** The version of this build, reported by /version and status replies. */
export const VERSION = "0.1.0";
