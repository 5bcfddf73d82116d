import { execFileSync } from 'node:child_process';

/** Builds dist/ once: tests that run the CLI or spawn reference-server processes use it. */
export default function globalSetup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
