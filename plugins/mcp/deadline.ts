import { formatMs } from './timeouts.ts';

/** A server did not finish a start-up step in time; the message names the step and the limit. */
export class StartupTimeout extends Error {
  override readonly name = 'StartupTimeout';
}

/**
 * One budget for a server's whole start-up (connect, initialize, tools/list, prompts/list), so a server
 * that answers each step just in time cannot take several timeouts in total. `step` names what is in
 * progress, so the failure says which request the server never answered.
 */
export class Deadline {
  step = 'initialize';
  private readonly end: number;

  constructor(readonly ms: number) {
    this.end = Date.now() + ms;
  }

  /** Settles as `work` does, or rejects with StartupTimeout when the budget runs out first. */
  async guard<T>(step: string, work: Promise<T>): Promise<T> {
    this.step = step;
    // The losing promise still settles later (usually "Connection closed" once the server is stopped).
    work.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      // Expiry waits one turn of the event loop: an answer that arrived while icode itself was busy (its
      // timers run before pending I/O) still wins, so a server is not blamed for icode's own delay.
      const expire = () =>
        setImmediate(() => reject(new StartupTimeout(`did not answer ${step} within ${formatMs(this.ms)}`)));
      timer = setTimeout(expire, Math.max(0, this.end - Date.now()));
    });
    try {
      return await Promise.race([work, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}
