// The retention rules alone (src/shared/domain/retention-rules.ts): what a change may do to a live, expired or absent
// retention, and what an upload's retention becomes.
import { describe, expect, it } from 'vitest';
import { applyRetentionChange, deletionBlockedBy, PERMANENT, retentionAtUpload, type RetentionState } from '../../src/shared/domain/retention-rules.js';

const now = new Date('2030-01-01T00:00:00.000Z');
const at = (days: number) => new Date(now.getTime() + days * 86_400_000).toISOString();
const retained = (mode: 'governance' | 'compliance', days: number): RetentionState => ({ ...PERMANENT, retainUntil: at(days), retentionMode: mode });
const change = (retainUntil: string | null, retentionMode: 'governance' | 'compliance' | null = null, bypassGovernance = false) =>
  ({ kind: 'retention', retainUntil, retentionMode, bypassGovernance }) as const;

describe('retention rules', () => {
  it('lets a live compliance retention only be extended, whoever asks', () => {
    expect(applyRetentionChange(retained('compliance', 5), change(at(9), 'compliance'), now)).toMatchObject({ retainUntil: at(9), retentionMode: 'compliance' });
    expect(applyRetentionChange(retained('compliance', 5), change(at(5), 'compliance'), now).retainUntil).toBe(at(5));
    for (const c of [change(at(4), 'compliance', true), change(null, null, true), change(at(9), 'governance', true), change(at(9), null, true)]) {
      expect(() => applyRetentionChange(retained('compliance', 5), c, now)).toThrow(expect.objectContaining({ code: 'retention_active' }));
    }
  });

  it('lets a live governance retention be extended or made compliance, and weakened only with the bypass', () => {
    expect(applyRetentionChange(retained('governance', 5), change(at(6)), now).retentionMode).toBe('governance');
    expect(applyRetentionChange(retained('governance', 5), change(at(5), 'compliance'), now).retentionMode).toBe('compliance');
    expect(() => applyRetentionChange(retained('governance', 5), change(at(1)), now)).toThrow(expect.objectContaining({ code: 'retention_active' }));
    expect(applyRetentionChange(retained('governance', 5), change(null, null, true), now)).toMatchObject({ retainUntil: null, retentionMode: null });
  });

  it('lets an expired or absent retention be replaced by anything', () => {
    expect(applyRetentionChange(retained('compliance', -1), change(null), now).retainUntil).toBeNull();
    expect(applyRetentionChange(PERMANENT, change(at(3)), now)).toMatchObject({ retainUntil: at(3), retentionMode: 'governance' });
  });

  it('blocks deletion under a hold or a live retention only', () => {
    expect(deletionBlockedBy({ legalHold: true, retainUntil: null }, now)).toMatch(/legal hold/);
    expect(deletionBlockedBy({ legalHold: false, retainUntil: at(1) }, now)).toMatch(/retained until/);
    expect(deletionBlockedBy({ legalHold: false, retainUntil: now }, now)).toBeNull();
    expect(deletionBlockedBy({ legalHold: false, retainUntil: null }, now)).toBeNull();
  });

  it('turns an upload retention into the record: ttlDays after the upload; none at all is permanent', () => {
    const upload = { retentionPolicy: 'temporary', ttlDays: 2, retainUntil: null, retentionMode: null, legalHold: false } as const;
    expect(retentionAtUpload(upload, now)).toEqual({ ...PERMANENT, retentionPolicy: 'temporary', expiresAt: at(2) });
    expect(retentionAtUpload(undefined, now)).toEqual(PERMANENT);
  });
});
