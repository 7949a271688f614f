/**
 * The plan input: plan-wide options and a VM's own options merge (a VM's override never resets the
 * plan's other options to defaults), and a plan-level field is reported once, on that field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeInputIssues, migrationInputSchema } from '../../workflows/contract.js';
import { planInputSchema, vmMigrationInput } from '../../workflows/plan-contract.js';

const base = { name: 'wave-1', source: { cluster: 'source' }, destination: { cluster: 'destination' } };

describe('plan input', () => {
  it("a VM's options override only what they name; the plan's others still apply", () => {
    const p = planInputSchema.parse({
      ...base,
      options: { decisionWindow: '1h', stallFallback: 'retry' },
      vms: [
        { namespace: 'demo', name: 'web-01', options: { pollInterval: '5s' } },
        { namespace: 'demo', name: 'db-01' },
      ],
    });
    const [web, db] = p.vms.map((vm) => migrationInputSchema.parse(vmMigrationInput(p, vm)).options);
    assert.equal(web!.decisionWindow, 3_600_000);
    assert.equal(web!.stallFallback, 'retry');
    assert.equal(web!.pollInterval, 5_000);
    assert.equal(db!.pollInterval, 2_000, 'defaults apply where nobody set anything');
    assert.equal(db!.decisionWindow, 3_600_000);
  });

  it('a bad destination namespace is reported once, on the plan field, not once per VM', () => {
    const r = planInputSchema.safeParse({
      ...base,
      destination: { cluster: 'destination', namespace: 'Bad_NS' },
      vms: [
        { namespace: 'demo', name: 'a' },
        { namespace: 'demo', name: 'b' },
      ],
    });
    assert.equal(r.success, false);
    const lines = describeInputIssues(r.error!);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^destination\.namespace must be a DNS-1123 label/);
  });

  it("a VM's own problems are named with its index and name", () => {
    const r = planInputSchema.safeParse({
      ...base,
      vms: [
        { namespace: 'demo', name: 'ok' },
        { namespace: 'demo', name: 'Not_OK' },
      ],
    });
    assert.equal(r.success, false);
    assert.match(describeInputIssues(r.error!).join('\n'), /vms\[1\] \(demo\/Not_OK\): source\.name must be a Kubernetes object name/);
  });
});
