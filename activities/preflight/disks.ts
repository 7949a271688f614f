/** Disks: present on the source, their size, their storage class mapping, no name collisions on the destination. */
import { diskSize, readSourceDisks, sourceStorageClass } from '../disks.js';
import type { KubeObject } from '../kube/kinds.js';
import { issues, type Issues, type Scope } from './scope.js';

/** A PVC that CDI made for one of our DataVolumes belongs to us too, labelled or not. */
const controlledBy = (o: KubeObject, owner: KubeObject) => (o.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid);

export async function checkDisks(s: Scope, vm: KubeObject): Promise<Issues & { diskBytes: number }> {
  const f = issues();
  const { dst, srcNs, dstNs } = s;
  let diskBytes = 0;
  const unmappedClasses = new Map<string, string[]>();
  for (const disk of await readSourceDisks(s.src, vm)) {
    diskBytes += diskSize(disk);
    if (!disk.pvc && !disk.dv) {
      f.block('MissingDisk', `${s.vmRef} uses ${disk.kind} ${srcNs}/${disk.name}, which does not exist on the source: the VM cannot be moved without it`);
    }
    const sc = sourceStorageClass(disk);
    if (sc && !s.m.storageClassMap[sc]) unmappedClasses.set(sc, [...(unmappedClasses.get(sc) ?? []), disk.name]);

    const dvThere = await s.get(dst, 'DataVolume', dstNs, disk.name);
    const pvcThere = await s.get(dst, 'PersistentVolumeClaim', dstNs, disk.name);
    const clash = dvThere && !s.ours(dvThere) ? dvThere : pvcThere && !s.ours(pvcThere) && !(dvThere && s.ours(dvThere) && controlledBy(pvcThere, dvThere)) ? pvcThere : undefined;
    if (clash) {
      f.block(
        'DiskNameCollision',
        `${clash.kind} ${dstNs}/${disk.name} already exists on the destination cluster ${dst.name} and was not created by this migration; the disk of ${s.vmRef} must be recreated under that name: delete or rename it there, or migrate to another namespace`,
      );
    }
  }
  for (const [sc, claims] of unmappedClasses) {
    f.warn(
      'StorageClassUnmapped',
      `storage class ${sc} (used by ${claims.join(', ')}) has no entry in storageClassMap: the destination disks keep storage class ${sc}, which must exist on ${dst.name}`,
    );
  }
  return { blockers: f.blockers, warnings: f.warnings, diskBytes };
}
