/**
 * errorMessage(): one helper for workflow, CLI and tests, that reads through the wrappers Temporal puts
 * around a failure (workflow result, update, activity, child workflow) to what was really said.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure, ChildWorkflowFailure, RetryState, TerminatedFailure } from '@temporalio/common';
import { errorMessage } from '../../workflows/errors.js';

const app = (message: string) => ApplicationFailure.create({ type: 'Forbidden', message, nonRetryable: true });
const activity = (cause?: Error) => new ActivityFailure('Activity task failed', 'createTargetVM', '7', RetryState.NON_RETRYABLE_FAILURE, 'worker@host', cause);
const child = (cause?: Error) =>
  new ChildWorkflowFailure('default', { workflowId: 'migration/source/demo/web-01', runId: 'r1' }, 'migrateVm', RetryState.NON_RETRYABLE_FAILURE, cause);

describe('errorMessage', () => {
  it('an activity failure: its cause', () => {
    assert.equal(
      errorMessage(activity(app('creating VirtualMachine demo/web-01 on cluster destination: HTTP 403 Forbidden'))),
      'creating VirtualMachine demo/web-01 on cluster destination: HTTP 403 Forbidden',
    );
  });

  it('a failed workflow whose child failed on an activity: the innermost message', () => {
    const e = new WorkflowFailedError('Workflow execution failed', child(activity(app('the source VMI is gone'))), RetryState.NON_RETRYABLE_FAILURE);
    assert.equal(errorMessage(e), 'the source VMI is gone');
  });

  it("a failed workflow: the workflow's own failure, not what it wraps (an ApplicationFailure is the message)", () => {
    const inner = app('plan aborted: preflight found blockers on 2 of 3 VMs');
    const e = new WorkflowFailedError('Workflow execution failed', Object.assign(inner, { cause: app('detail') }), RetryState.NON_RETRYABLE_FAILURE);
    assert.equal(errorMessage(e), 'plan aborted: preflight found blockers on 2 of 3 VMs');
  });

  it('a refused update: the reason', () => {
    assert.equal(
      errorMessage(new WorkflowUpdateFailedError('Workflow Update failed', app('retry refused: the migration is not Stalled'))),
      'retry refused: the migration is not Stalled',
    );
  });

  it('cancelled and terminated workflows', () => {
    assert.equal(
      errorMessage(new WorkflowFailedError('Workflow execution cancelled', new CancelledFailure('Workflow cancelled'), RetryState.NON_RETRYABLE_FAILURE)),
      'Workflow cancelled',
    );
    assert.equal(errorMessage(new WorkflowFailedError('Workflow execution terminated', new TerminatedFailure('test cleanup'), RetryState.NON_RETRYABLE_FAILURE)), 'test cleanup');
  });

  it('a wrapper without a cause, or with an empty one, keeps its own message', () => {
    assert.equal(errorMessage(activity()), 'Activity task failed');
    assert.equal(errorMessage(new WorkflowFailedError('Workflow execution failed', new Error(''), RetryState.NON_RETRYABLE_FAILURE)), 'Workflow execution failed');
  });

  it('plain errors and non-errors', () => {
    assert.equal(errorMessage(new Error('boom')), 'boom');
    assert.equal(errorMessage({ message: 'from JSON' }), 'from JSON');
    assert.equal(errorMessage('just text'), 'just text');
    assert.equal(errorMessage(undefined), 'undefined');
  });
});
