/**
 * Dropping privileges after the sockets are bound: chroot into `chroot_path`, then switch to
 * `user` (and `group`) through libc over FFI, since Deno has no API for it. glibc applies
 * `setuid`/`setgid`/`setgroups` to every thread of the process, workers included.
 *
 * Users and groups are looked up (through NSS) before the chroot, while `/etc` is visible.
 *
 * @module
 */

import { OperatorError } from "../base/errors.ts";
import { errno, errnoName, lib } from "../net/libc.ts";

/** The `[privileges]` section. */
export interface PrivilegeSettings {
  /** Whether to drop at all. */
  drop_privileges: boolean;
  /** Directory to chroot into. */
  chroot_path: string;
  /** User name (or numeric uid). */
  user: string;
  /** Group name (or numeric gid); empty for the user's primary group. */
  group: string;
}

const SYMBOLS = {
  getpwnam: { parameters: ["buffer"], result: "pointer" },
  getgrnam: { parameters: ["buffer"], result: "pointer" },
  geteuid: { parameters: [], result: "u32" },
  getuid: { parameters: [], result: "u32" },
  getgid: { parameters: [], result: "u32" },
  chroot: { parameters: ["buffer"], result: "i32" },
  chdir: { parameters: ["buffer"], result: "i32" },
  setgroups: { parameters: ["usize", "pointer"], result: "i32" },
  setgid: { parameters: ["u32"], result: "i32" },
  setuid: { parameters: ["u32"], result: "i32" },
} as const;

function cstring(s: string): Uint8Array {
  const b = new TextEncoder().encode(s + "\0");
  const out = new Uint8Array(Math.max(b.length, 256)); // off V8's moving heap
  out.set(b);
  return out;
}

// struct passwd: two pointers, then uid_t pw_uid and gid_t pw_gid (LP64 glibc).
const PW_UID = 16, PW_GID = 20;
// struct group: two pointers, then gid_t gr_gid.
const GR_GID = 16;

/**
 * Chroots and switches user as configured; a no-op when `drop_privileges` is false. Every
 * impossibility (not Linux, not root, unknown user or group, missing directory) is an
 * `OperatorError` naming the key.
 */
export function dropPrivileges(p: PrivilegeSettings): { uid: number; gid: number } | null {
  if (!p.drop_privileges) return null;
  if (Deno.build.os !== "linux") {
    throw new OperatorError(
      `privileges.drop_privileges is supported on Linux only (this is ${Deno.build.os})`,
    );
  }
  lib(); // errno
  const c = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  {
    const euid = c.geteuid();
    if (euid !== 0) {
      throw new OperatorError(
        `privileges.drop_privileges needs shoal started as root (running as uid ${euid})`,
      );
    }
    let uid: number, gid: number;
    if (/^\d+$/.test(p.user)) {
      uid = Number(p.user);
      gid = uid;
    } else {
      const pw = c.getpwnam(cstring(p.user));
      if (pw === null) throw new OperatorError(`privileges.user: no such user "${p.user}"`);
      const v = new Deno.UnsafePointerView(pw);
      uid = v.getUint32(PW_UID);
      gid = v.getUint32(PW_GID);
    }
    if (p.group !== "") {
      if (/^\d+$/.test(p.group)) {
        gid = Number(p.group);
      } else {
        const gr = c.getgrnam(cstring(p.group));
        if (gr === null) throw new OperatorError(`privileges.group: no such group "${p.group}"`);
        gid = new Deno.UnsafePointerView(gr).getUint32(GR_GID);
      }
    }
    if (c.chroot(cstring(p.chroot_path)) !== 0) {
      throw new OperatorError(
        `privileges.chroot_path: cannot chroot to ${p.chroot_path}: ${errnoName(errno())}`,
      );
    }
    if (c.chdir(cstring("/")) !== 0) {
      throw new OperatorError(`privileges: chdir / failed: ${errnoName(errno())}`);
    }
    // Supplementary groups first, then the group, then the user: after setuid nothing else is allowed.
    if (c.setgroups(0 as unknown as bigint, null) !== 0) {
      throw new OperatorError(`privileges: setgroups failed: ${errnoName(errno())}`);
    }
    if (c.setgid(gid) !== 0) {
      throw new OperatorError(`privileges.group: setgid(${gid}) failed: ${errnoName(errno())}`);
    }
    if (c.setuid(uid) !== 0) {
      throw new OperatorError(`privileges.user: setuid(${uid}) failed: ${errnoName(errno())}`);
    }
    // There must be no way back.
    if (uid !== 0 && c.setuid(0) === 0) {
      throw new OperatorError("privileges: root could be regained after setuid");
    }
    return { uid: c.getuid(), gid: c.getgid() };
  }
}
