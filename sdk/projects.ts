/**
 * The folder name a project's sessions, tasks and schedules live under in the user's icode directory
 * (`~/.icode/projects/<slug>`): the project root with every character but letters and digits as `-`.
 *
 * @example
 * ```ts
 * const dir = join(ctx.userDir, 'projects', projectSlug(ctx.projectRoot));
 * ```
 */
export const projectSlug = (projectRoot: string) => projectRoot.replace(/[^A-Za-z0-9]/g, '-');
