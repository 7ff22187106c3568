/** Errors of the HSM layer. Messages never contain key material or the key text. */

/** The HSM key text is malformed; the message says how to make a valid one. */
export class HsmKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HsmKeyError";
  }
}

/** Sealed data did not authenticate: wrong HSM key, wrong label, or damaged bytes. */
export class HsmMismatchError extends Error {
  constructor(message = "sealed data is not authentic: wrong HSM key, wrong label, or damaged data") {
    super(message);
    this.name = "HsmMismatchError";
  }
}
