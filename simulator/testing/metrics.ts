/**
 * Scraping a virt-handler metrics endpoint the way Prometheus does (HTTPS, trusting only the CA file
 * the bed published) and parsing the text exposition format 0.0.4 strictly enough that a malformed
 * line fails the test rather than being skipped.
 */
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { VirtHandlerMetricsEndpoint } from '../metrics/endpoints.js';

export interface ParsedSample {
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

export interface ParsedFamily {
  help?: string;
  type?: string;
  samples: ParsedSample[];
}

export interface Scrape {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  families: Map<string, ParsedFamily>;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+(-?\\d+))?$`);
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

const unescape = (s: string) => s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

function parseValue(v: string, where: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (v === 'NaN') return NaN;
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new Error(`${where}: sample value "${v}" is not a number`);
  return n;
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (!m) throw new Error(`${where}: bad label set at "${text.slice(at)}"`);
    if (m[1]! in labels) throw new Error(`${where}: label ${m[1]} given twice`);
    labels[m[1]!] = unescape(m[2]!);
    if (m[3] === '') break;
  }
  return labels;
}

export function parseExposition(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  const family = (name: string) => families.get(name) ?? families.set(name, { samples: [] }).get(name)!;
  text.split('\n').forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line.trim() === '') return;
    const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
    if (meta) {
      const [, kind, name, rest = ''] = meta;
      const f = family(name!);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        f.help = unescape(rest);
      } else {
        if (f.type !== undefined || f.samples.length) throw new Error(`${where}: TYPE for ${name} must come once, before its samples`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`${where}: unknown metric type "${rest}"`);
        f.type = rest;
      }
      return;
    }
    if (line.startsWith('#')) return; // a comment
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`${where}: not a sample line: ${line}`);
    const [, name, labels, value, ts] = m;
    family(name!).samples.push({
      labels: labels ? parseLabels(labels, where) : {},
      value: parseValue(value!, where),
      ...(ts !== undefined ? { timestampMs: Number(ts) } : {}),
    });
  });
  return families;
}

/** GET the endpoint's URL, trusting only its published CA file. */
export function scrapeMetrics(endpoint: VirtHandlerMetricsEndpoint): Promise<Scrape> {
  const ca = readFileSync(endpoint.caFile, 'utf8');
  return new Promise((resolve, reject) => {
    const req = httpsRequest(endpoint.url, { method: 'GET', ca, agent: false, headers: { accept: 'text/plain;version=0.0.4' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', reject);
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, families: parseExposition(text) });
        } catch (e) {
          reject(e instanceof Error ? new Error(`${endpoint.url}: ${e.message}`) : e);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The one sample of `family` for VMI `namespace/name`, if the endpoint has it. */
export function vmiSample(scrape: Scrape, family: string, namespace: string, name: string): ParsedSample | undefined {
  return scrape.families.get(family)?.samples.find((s) => s.labels.namespace === namespace && s.labels.name === name);
}
