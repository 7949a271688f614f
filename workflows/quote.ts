/**
 * What a refusal quotes of the input: enough to recognize it. An input can be megabytes (a pasted
 * file, a generated name); echoing it whole would make the message as large again, in the failure,
 * its details and every log line that carries it.
 */
const QUOTE_MAX = 60;

/** `"text"`, or its start and its length when longer than a person reads in a line. */
export function quote(text: string): string {
  return text.length > QUOTE_MAX ? `"${text.slice(0, QUOTE_MAX)}…" (${text.length} characters)` : `"${text}"`;
}
