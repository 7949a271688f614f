/**
 * The migration's input, validated inside the workflow so a start from the Temporal CLI is checked
 * exactly like one from ferry's CLI. Bad input fails before anything is touched, naming every field.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { describeInputIssues, FailureTypes, type Migration, migrationInputSchema } from './contract.js';
import { planLink } from './plan-link.js';

export async function validInput(input: unknown): Promise<Migration> {
  const parsed = migrationInputSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = describeInputIssues(parsed.error);
  // A plan waits for every child's end: tell it, even though the input names no valid VM.
  const plan = (input as { plan?: unknown } | null)?.plan;
  const toPlan = planLink(plan === undefined ? undefined : String(plan));
  toPlan?.report({ phase: 'Failed', attempt: 1, error: `invalid migration input: ${issues.join('; ')}` });
  await toPlan?.flush();
  throw ApplicationFailure.create({
    type: FailureTypes.InvalidInput,
    message: `invalid migration input:\n- ${issues.join('\n- ')}`,
    nonRetryable: true,
    details: [issues],
  });
}
