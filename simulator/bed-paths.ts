/**
 * Where `npm run sim` writes each bed's kubeconfig by default. A module of its own so `sim:control`
 * finds them without loading either bed.
 */
import { statSync } from 'node:fs';

export type BedKind = 'sim' | 'kube';
export const BED_KINDS: readonly BedKind[] = ['sim', 'kube'];

export const DEFAULT_KUBECONFIGS: Record<BedKind, string> = {
  sim: '.state/sim/kubeconfig',
  kube: '.state/kube-bed/kubeconfig',
};

/**
 * The default kubeconfig of whichever bed was started last: each bed writes its kubeconfig when it
 * starts and leaves it behind when it stops, so the newer file is the one likely to answer. Without
 * either, the simulator's (the error then names the file that was expected).
 */
export function newestBedKubeconfig(): string {
  const mtime = (f: string) => {
    try {
      return statSync(f).mtimeMs;
    } catch {
      return -1;
    }
  };
  const sim = DEFAULT_KUBECONFIGS.sim;
  const kube = DEFAULT_KUBECONFIGS.kube;
  return mtime(kube) > mtime(sim) ? kube : sim;
}
