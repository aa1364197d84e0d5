/**
 * Client roles, each allowing what the ones below it allow:
 *
 *   read       GET/HEAD /kv, GET /admin/cluster, GET /metrics; RESP reads (GET, MGET, INFO…)
 *   readwrite  and PUT/DELETE on /kv; RESP writes (SET, DEL, MSET, SHOAL.PUT…)
 *   admin      and every other /admin route, membership changes included; RESP CONFIG
 */

export const ROLES = ['read', 'readwrite', 'admin'] as const;

export type Role = (typeof ROLES)[number];

const RANK: Readonly<Record<Role, number>> = { read: 0, readwrite: 1, admin: 2 };

/** Whether a user with `role` may do what needs `needed`. */
export function roleAllows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

export function isRole(text: string): text is Role {
  return (ROLES as readonly string[]).includes(text);
}
