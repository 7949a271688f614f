/**
 * ferry's custom search attributes: one definition used by the workflow (upserts), the dev server and
 * docker-compose (registration) and the CLI (queries such as `FerryStalled = true`).
 *
 * Bundled into workflow code: import only `@temporalio/common` / `@temporalio/workflow` here.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const FerryPhase = defineSearchAttributeKey('FerryPhase', SearchAttributeType.KEYWORD);
export const FerryStalled = defineSearchAttributeKey('FerryStalled', SearchAttributeType.BOOL);
/** `<namespace>/<name>` of the source VM. */
export const FerryVm = defineSearchAttributeKey('FerryVm', SearchAttributeType.KEYWORD);
export const FerryPlan = defineSearchAttributeKey('FerryPlan', SearchAttributeType.KEYWORD);
export const FerrySourceCluster = defineSearchAttributeKey('FerrySourceCluster', SearchAttributeType.KEYWORD);
export const FerryDestinationCluster = defineSearchAttributeKey('FerryDestinationCluster', SearchAttributeType.KEYWORD);

/** Every ferry key; registration and tests iterate this, so a new key needs adding only here. */
export const ferrySearchAttributeKeys = [FerryPhase, FerryStalled, FerryVm, FerryPlan, FerrySourceCluster, FerryDestinationCluster] as const;

/** Type names as the Temporal CLI spells them (`--search-attribute Name=Type`, `--type Type`). */
export type CliSearchAttributeType = 'Text' | 'Keyword' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

const cliSpelling: Record<SearchAttributeType, CliSearchAttributeType> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

export interface CliSearchAttribute {
  readonly name: string;
  readonly type: CliSearchAttributeType;
}

/** Names and types as the Temporal CLI spells them, derived from the keys so the two cannot drift. */
export const ferrySearchAttributes: readonly CliSearchAttribute[] = ferrySearchAttributeKeys.map((key) => ({
  name: key.name,
  type: cliSpelling[key.type],
}));
