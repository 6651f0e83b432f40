/** bin/dist-fresh.js: whether dist/ is at least as new as the sources it is built from (`root` ends with "/"). */
export function distIsFresh(root: string): boolean;
