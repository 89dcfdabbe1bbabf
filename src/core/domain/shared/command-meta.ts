/** What comes with every command from outside the domain: who, when, and why. */
export interface CommandMeta {
  actor: string;
  correlationId: string;
  causationId: string | null;
  /** ISO-8601. The domain never reads the clock; this is "now" for the decision. */
  timestamp: string;
}
