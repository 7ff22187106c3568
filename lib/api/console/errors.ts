/**
 * The console's errors: its own two refusals (no live session, a call from
 * another site) and the one place an error becomes the console's HTTP
 * status. Every other error keeps the native protocol's status for its kind,
 * so a denial reads the same in the page as in the CLI.
 */
import { Errors, KmsError } from "../../state/errors.ts";
import { statusOf } from "../../wire/errors.ts";

/** No live session: never signed in, expired, or ended (401, which the native protocol never answers). */
export class NotSignedIn extends KmsError {
  constructor(message: string) {
    super("denied", message);
    this.name = "NotSignedIn";
  }
}

/** The console's own refusals. */
export const ConsoleErrors = {
  notSignedIn: (message: string) => new NotSignedIn(message),
  /** A state-changing call that did not come from the console's own page. */
  crossSite: () => Errors.refused("cross-site request refused: use the console's own page"),
} as const;

/** The console's status for an error: 401 without a session, else the native protocol's status for its kind. */
export function consoleStatus(err: unknown): number {
  return err instanceof NotSignedIn ? 401 : statusOf(err);
}
