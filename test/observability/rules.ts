/** deploy/monitoring/prometheusrule.yaml's groups as a Prometheus rule file, for promtool and a real Prometheus. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from '../../tools/temporal-cli.js';

export interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface PrometheusRule {
  kind: string;
  spec: { groups: { name: string; rules: Rule[] }[] };
}

export const PROMETHEUS_RULE_FILE = join(REPO_ROOT, 'deploy', 'monitoring', 'prometheusrule.yaml');

export function readPrometheusRule(): PrometheusRule {
  return parse(readFileSync(PROMETHEUS_RULE_FILE, 'utf8')) as PrometheusRule;
}

/** Writes `<dir>/ferry-rules.yml` (the name alerts.rules-test.yml loads) and answers its path. */
export function writeFerryRules(dir: string): string {
  const file = join(dir, 'ferry-rules.yml');
  writeFileSync(file, stringify({ groups: readPrometheusRule().spec.groups }));
  return file;
}
