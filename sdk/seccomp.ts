import { arch } from 'node:process';

/**
 * A seccomp program (classic BPF, as bubblewrap's `--seccomp FD` reads it) for sandboxed commands:
 * - io_uring is refused (its set-up fails with ENOSYS): its operations, socket creation among them, do
 *   not pass through the system calls this filter sees, so it would walk around the rest;
 * - with `unixSockets: false`, `socket(AF_UNIX, …)` fails with EPERM. With the network namespace unshared,
 *   Unix sockets are the one way left to reach the host: ssh-agent, the Docker daemon, D-Bus, a database.
 *   Abstract sockets already live per network namespace; filesystem ones need this, because any of them
 *   may sit in a folder the command can see. `socketpair` stays allowed: it cannot name a host socket,
 *   and pipes between a program's own processes (Node's child_process, Python's multiprocessing) use it.
 * Everything else is allowed.
 *
 * There is no well-kept npm library for seccomp filters; the program is a few dozen instructions from the
 * kernel's documented ABI (linux/filter.h, linux/seccomp.h, linux/audit.h), tested against the real kernel.
 * Returns undefined on architectures it does not know: the caller then reports the gap.
 */
export function sandboxFilter(options: { unixSockets: boolean }, cpu: string = arch): Buffer | undefined {
  const native = ARCHES[cpu];
  if (!native) return undefined;
  const LD = 0x20; // BPF_LD | BPF_W | BPF_ABS
  const JEQ = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
  const RET = 0x06; // BPF_RET | BPF_K
  const ALLOW = 0x7fff0000;
  const DENY = 0x00050000 | 1; // SECCOMP_RET_ERRNO | EPERM
  const NOSYS = 0x00050000 | 38; // SECCOMP_RET_ERRNO | ENOSYS: as on a kernel without io_uring
  const AF_UNIX = 1;
  // Built with symbolic jump targets, resolved at the end (jumps are relative and forward only).
  type Op = { code: number; k: number; jt?: string; label?: string };
  const ops: Op[] = [];
  ops.push({ code: LD, k: 4 }); // seccomp_data.arch
  for (const a of native) ops.push({ code: JEQ, k: a.audit, jt: `arch:${a.audit}` });
  ops.push({ code: RET, k: ALLOW }); // an ABI this program does not know (none on these CPUs)
  for (const a of native) {
    ops.push({ code: LD, k: 0, label: `arch:${a.audit}` }); // seccomp_data.nr
    for (const nr of a.ioUring) ops.push({ code: JEQ, k: nr, jt: 'nosys' });
    if (!options.unixSockets) {
      for (const nr of a.socket) ops.push({ code: JEQ, k: nr, jt: 'arg' });
      if (a.socketcall !== undefined) ops.push({ code: JEQ, k: a.socketcall, jt: 'socketcall' });
    }
    ops.push({ code: RET, k: ALLOW });
  }
  // socketcall(SYS_SOCKET=1, args*): the domain is behind a pointer the filter cannot read, so 32-bit x86
  // programs cannot create sockets at all with the network off.
  ops.push({ code: LD, k: 16, label: 'socketcall' });
  ops.push({ code: JEQ, k: 1, jt: 'deny' });
  ops.push({ code: RET, k: ALLOW });
  ops.push({ code: LD, k: 16, label: 'arg' }); // low 32 bits of args[0] (little-endian)
  ops.push({ code: JEQ, k: AF_UNIX, jt: 'deny' });
  ops.push({ code: RET, k: ALLOW });
  ops.push({ code: RET, k: DENY, label: 'deny' });
  ops.push({ code: RET, k: NOSYS, label: 'nosys' });
  const at = new Map(ops.flatMap((op, i) => (op.label ? [[op.label, i] as const] : [])));
  const jump = (from: number, label: string | undefined) => {
    if (!label) return 0;
    const to = at.get(label);
    if (to === undefined || to <= from || to - from - 1 > 255)
      throw new Error(`bad seccomp jump to ${label}`);
    return to - from - 1;
  };
  const out = Buffer.alloc(ops.length * 8);
  for (const [i, op] of ops.entries()) {
    out.writeUInt16LE(op.code, i * 8);
    out.writeUInt8(jump(i, op.jt), i * 8 + 2);
    out.writeUInt8(0, i * 8 + 3);
    out.writeUInt32LE(op.k >>> 0, i * 8 + 4);
  }
  return out;
}

interface Abi {
  audit: number;
  socket: number[];
  socketcall?: number;
  /** io_uring_setup, io_uring_enter, io_uring_register. */
  ioUring: number[];
}

const IO_URING = [425, 426, 427];

// AUDIT_ARCH_* values and socket syscall numbers per ABI the process may use on that CPU.
const ARCHES: Record<string, Abi[]> = {
  x64: [
    // x86_64 and x32 (the same audit value; x32 numbers have bit 30 set)
    {
      audit: 0xc000003e,
      socket: [41, 0x40000000 + 41],
      ioUring: [...IO_URING, ...IO_URING.map((n) => 0x40000000 + n)],
    },
    { audit: 0x40000003, socket: [359], socketcall: 102, ioUring: IO_URING }, // i386 on x86_64
  ],
  arm64: [
    { audit: 0xc00000b7, socket: [198], ioUring: IO_URING },
    { audit: 0x40000028, socket: [281], ioUring: IO_URING }, // 32-bit ARM compat
  ],
};
